"""Where a generator's items go: kept, rejected with a reason, or failed with its error.

Every generator (CodecLM's stages, the baselines, CRR) hands each finished
item to a ``Sink`` exactly once; a run directory is one (``runs/run_dir.py``),
``MemorySink`` another (the Python API and tests). ``failure`` builds the row
of an item that failed with an error.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from codeclm_dspy.errors import StepParseError
from codeclm_dspy.pipeline.records import Trajectory, rejected_row
from codeclm_dspy.secrets import scrub


class Sink(Protocol):
    """Where items go: their progress as they move, their outcome once."""

    def keep(self, row: dict[str, Any], trajectory: dict[str, Any] | None = None) -> None:
        """Take a kept row; ``trajectory`` (every round tried, both answers) is kept beside it
        for reports, never in the dataset."""

    def reject(self, row: dict[str, Any]) -> None: ...
    def progress(self, traj: Trajectory) -> None: ...


class MemorySink:
    """Collects rows in lists (for the Python API and tests)."""

    def progress(self, traj: Trajectory) -> None:
        pass

    def __init__(self) -> None:
        self.kept: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def keep(self, row: dict[str, Any], trajectory: dict[str, Any] | None = None) -> None:
        with self._lock:
            self.kept.append(row)

    def reject(self, row: dict[str, Any]) -> None:
        with self._lock:
            self.rejected.append(row)


def failure(kind: str, item_id: str, stage: str, exc: Exception, **details) -> dict[str, Any]:
    """A rejected.jsonl row for an item that failed with an error."""
    raw = exc.raw if isinstance(exc, StepParseError) else None
    reason = "parse_error" if isinstance(exc, StepParseError) else "error"
    error = scrub(f"{type(exc).__name__}: {exc}")
    return rejected_row(kind, item_id, "failed", reason, stage, error=error, raw=raw, **details)


def stage_of(exc: Exception, default: str) -> str:
    """The step a failure happened in: a parse error names its own."""
    return exc.step if isinstance(exc, StepParseError) else default
