"""Items in parallel: ``pmap`` fans a stage out over threads, stopping cleanly.

An item's own error comes back as its result (the caller records it as that
item's failure); an error that stops the run (``retries.as_stop``: a budget,
a dead provider) lets the items already started finish, skips the rest, and
is raised once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from codeclm_dspy.engine.retries import as_stop
from codeclm_dspy.errors import RunStopped


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


def ticked(tick, fn, *args):
    """``fn(*args)``, then advance the progress bar (even on an error)."""
    try:
        return fn(*args)
    finally:
        tick()
