"""What every generator's run is made of: sinks, a parallel map, failures, stops.

A generator (CodecLM's stages in ``stages.py``, the baselines, CRR) fans each
stage out with ``pmap`` and hands every finished item to a ``Sink`` exactly
once: kept, rejected with a reason, or failed with its error (``failure``).
``as_stop`` tells an item's own failure from one that stops the whole run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from codeclm_dspy.errors import ProviderStopped, RunStopped, StepParseError
from codeclm_dspy.records import Trajectory, rejected_row
from codeclm_dspy.retries import stops_the_run
from codeclm_dspy.secrets import scrub


class Sink(Protocol):
    """Where items go: their progress as they move, their outcome once."""

    def keep(self, row: dict[str, Any]) -> None: ...
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

    def keep(self, row: dict[str, Any]) -> None:
        with self._lock:
            self.kept.append(row)

    def reject(self, row: dict[str, Any]) -> None:
        with self._lock:
            self.rejected.append(row)


def as_stop(exc: BaseException) -> RunStopped | None:
    """The run-stopping form of an error, or None if it fails only its item."""
    if isinstance(exc, RunStopped):
        return exc
    if stops_the_run(exc):
        return ProviderStopped(
            f"the provider stopped the run ({type(exc).__name__}: {scrub(str(exc))}); "
            "everything so far is saved; fix the cause and run the same command again to resume"
        )
    return None


def pmap(fn: Callable, items: Iterable, workers: int) -> list[tuple[Any, Any]]:
    """``[(item, result_or_exception)]`` in input order.

    An error that stops the run (a budget, a dead provider) is raised once
    every item already started has finished, and items not yet started are
    skipped, so nothing is recorded as failed for a reason outside it.
    """
    items = list(items)
    stopped: list[RunStopped] = []

    def safe(item):
        if stopped:
            return None
        try:
            return fn(item)
        except Exception as exc:
            stop = as_stop(exc)
            if stop is None:
                return exc  # recorded as this item's failure, not lost
            stopped.append(stop)
            return None

    if workers <= 1 or len(items) <= 1:
        results = [(item, safe(item)) for item in items]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            try:
                results = list(zip(items, pool.map(safe, items), strict=True))
            except KeyboardInterrupt:
                # Ctrl-C: queued items return at once, calls in flight finish
                # and are journaled, then the interrupt goes on up.
                stopped.append(RunStopped("interrupted"))
                raise
    if stopped:
        raise stopped[0]
    return results


def failure(kind: str, item_id: str, stage: str, exc: Exception, **details) -> dict[str, Any]:
    """A rejected.jsonl row for an item that failed with an error."""
    raw = exc.raw if isinstance(exc, StepParseError) else None
    reason = "parse_error" if isinstance(exc, StepParseError) else "error"
    error = scrub(f"{type(exc).__name__}: {exc}")
    return rejected_row(kind, item_id, "failed", reason, stage, error=error, raw=raw, **details)


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` near-equal shares, larger shares first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def ticked(tick, fn, *args):
    """``fn(*args)``, then advance the progress bar (even on an error)."""
    try:
        return fn(*args)
    finally:
        tick()
