"""The journal's keys in memory, at 8 bytes a key: a sorted array of 64-bit prefixes.

Why hand-written: the run journal answers "has this run seen this request?"
for every call without a query, so it holds every key it has. A Python set
of ints costs about 70 bytes a key (a 32-byte int object and its share of
the hash table): 11 MB for a 165,000-call run, memory that grew with the
run's length. Here the prefixes sit in a sorted ``array('Q')`` searched with
``bisect``; keys added during the run go to a small set first, which is
merged into the array whenever it reaches ``MERGE_AT`` keys (a merge copies
the array once, in C slices). The standard library has no sorted compact
set, and the project takes no dependency for one.

A prefix is the first 64 bits of a request key (a SHA-256 hex digest); a
hit only says the journal may hold the key, and the caller reads the row.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterable

MERGE_AT = 4096  # keys added before they are merged into the sorted array


def prefix(key: str) -> int:
    """The index's form of a request key: its first 64 bits."""
    return int(key[:16], 16)


class KeyIndex:
    """A set of request-key prefixes: ``add`` and ``in``, safe from any thread.

    Args:
        keys: the keys already in the journal, in ascending order (SQLite's
            ``ORDER BY key`` on lowercase hex digests), read as they stream.
    """

    def __init__(self, keys: Iterable[str] = ()):
        self._sorted = array("Q", (prefix(key) for key in keys))
        if any(a > b for a, b in zip(self._sorted, self._sorted[1:], strict=False)):
            self._sorted = array("Q", sorted(self._sorted))  # not in order after all: sort once
        self._recent: set[int] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sorted) + len(self._recent)

    def __contains__(self, key: str) -> bool:
        p = prefix(key)
        with self._lock:
            if p in self._recent:
                return True
            i = bisect_left(self._sorted, p)
            return i < len(self._sorted) and self._sorted[i] == p

    def add(self, key: str) -> None:
        """Remember ``key`` (adding one already known changes nothing)."""
        p = prefix(key)
        with self._lock:
            self._recent.add(p)
            if len(self._recent) >= MERGE_AT:
                self._merge()

    def _merge(self) -> None:
        """Move the recent prefixes into the sorted array: one copy, slice by slice."""
        old, merged, start = self._sorted, array("Q"), 0
        for p in sorted(self._recent):
            i = bisect_left(old, p, start)
            merged += old[start:i]
            if i == len(old) or old[i] != p:
                merged.append(p)
            start = i
        merged += old[start:]
        self._sorted, self._recent = merged, set()
