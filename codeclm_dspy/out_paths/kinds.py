"""The kinds of directory codeclm writes, and the names each may hold at its top level.

A directory is judged ours only when everything in it is a name its kind
writes (see ``rule``), so each kind lists them all here, with its SQLite file
and the tables that file may hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Any

MARKER = ".codeclm"
STATE = "state.sqlite"
RUN_TABLES = frozenset({"meta", "calls", "items"})
BATCH_TABLES = frozenset({"batches", "batch_requests"})  # a batch run's (runs/batch_store.py)
SQLITE_HEADER = b"SQLite format 3\x00"


def _sqlite(name: str) -> tuple[str, ...]:
    return (name, f"{name}-wal", f"{name}-shm", f"{name}-journal")


def _atomic(*names: str) -> tuple[str, ...]:
    """Files written through a temp file: ``name`` and ``name.tmp``.

    ``atomic_write``'s own temp name, ``.name.<pid>.tmp``, is matched by
    ``_REPLACING``; ``name.tmp`` is what ``eval split`` stages its pair of
    files under, and what versions before atomic_write left on a kill.
    """
    return tuple(n for name in names for n in (name, f"{name}.tmp"))


@dataclass(frozen=True)
class Kind:
    noun: str  # "run directory": what the messages call it
    names: tuple[str, ...]  # everything that kind writes at its top level
    database: str | None = None  # its SQLite file, checked whenever present
    tables: frozenset[str] = frozenset()  # the tables that file may hold (empty: any)
    scratch: tuple[str, ...] = ()  # glob patterns of what a write killed midway leaves behind


# what each kind writes at its top level (compare --remove-contaminated adds its two files to a run)
RUN = _atomic(
    "kept.jsonl", "rejected.jsonl", "manifest.json", "kept.decontaminated.jsonl", "contamination.json"
)
CRR = _atomic("verdicts.jsonl", "failed.jsonl", "manifest.json")
REPORT = "report.html"  # `codeclm report` (codeclm_dspy/report/) writes it into each kind it reads
KINDS = {
    "run": Kind(
        "run directory",
        (*_sqlite(STATE), *RUN, "dataset", REPORT),
        STATE,
        RUN_TABLES | BATCH_TABLES,
        (".dataset-build-*", ".dataset-old"),  # runs/dataset_files.py's scratch and swap
    ),
    "crr": Kind("CRR evaluation directory", (*_sqlite(STATE), *CRR, REPORT), STATE, RUN_TABLES),
    "program": Kind(
        "program directory",
        (*_sqlite(STATE), *_atomic("program.json", "manifest.json"), "optimizer-logs", REPORT),
        STATE,
        RUN_TABLES,
    ),
    "split": Kind("split directory", _atomic("seeds.jsonl", "heldout.jsonl")),
    "comparison": Kind(
        "comparison directory", ("comparison.json", "comparison.md", "comparison.png", REPORT)
    ),
    "sweep": Kind("sweep directory", (*_sqlite("study.db"), "trials", "plots", REPORT), "study.db"),
    "cache": Kind(
        "request cache directory", _sqlite("requests.sqlite"), "requests.sqlite", frozenset({"answers"})
    ),
}


_REPLACING = re.compile(r"\.(.+)\.\d+\.tmp")  # atomic_write's temp file of a name


def leftover(name: str, kind: str) -> bool:
    """Whether ``name`` is what a write of this kind killed midway leaves (the next write redoes it).

    A SIGKILL can land during any write: a temp marker, a file being replaced,
    the dataset being built. The directory is still ours, and the same command
    must resume it.
    """
    if name.startswith(f"{MARKER}.") and name.endswith(".tmp"):
        return True
    replacing = _REPLACING.fullmatch(name)
    if replacing and replacing.group(1) in KINDS[kind].names:
        return True
    return any(fnmatch(name, pattern) for pattern in KINDS[kind].scratch)


def kind_of_identity(identity: dict[str, Any]) -> str:
    """The kind of a run-like directory from the identity its state keeps."""
    if identity.get("kind") == "crr":
        return "crr"
    return "program" if "compile" in (identity.get("config") or {}) else "run"
