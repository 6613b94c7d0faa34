"""A set of SHA-256 hex digests in memory at 8 bytes each: a sorted array of 64-bit prefixes.

Why hand-written: two things a run does for every call or instruction ask
"seen this before?" of a set that only grows: the run journal (has this run
made this request? ``runs/run_state.py``) and the decode rounds' duplicate
check (was this instruction decoded before? ``pipeline/quota.py``). A Python
set of ints costs about 70 bytes a member (a 32-byte int object and its
share of the hash table), a set of strings more: 11 MB of keys for a
165,000-call run, memory that grew with the run's length, and small
long-lived objects scattered over the heap. Here the prefixes sit in a
sorted ``array('Q')`` searched with ``bisect``; members added during the run
go to a small set first, which is merged into the array whenever it reaches
``MERGE_AT`` members (a merge copies the array once, in C slices). The
standard library has no sorted compact set, and the project takes no
dependency for one.

A prefix is the first 64 bits of a digest. For the journal a hit only says
it may hold the key, and the caller reads the row; for the duplicate check a
hit is taken as a duplicate, wrongly for one pair in about 2**64 (below one
in ten million at a million instructions).
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterable

MERGE_AT = 4096  # keys added before they are merged into the sorted array


def prefix(key: str) -> int:
    """The index's form of a hex digest: its first 64 bits."""
    return int(key[:16], 16)


class KeyIndex:
    """A set of digest prefixes: ``add`` and ``in``, safe from any thread.

    Args:
        keys: hex digests already in the set, best in ascending order (the
            journal's ``ORDER BY key``), read as they stream; sorted once if not.
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
