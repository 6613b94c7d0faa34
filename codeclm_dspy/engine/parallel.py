"""Items in parallel: ``pmap`` fans a stage out over threads, stopping cleanly.

An item's own error comes back as its result (the caller records it as that
item's failure); an error that stops the run (``retries.as_stop``: a budget,
a dead provider) lets the items already started finish, skips the rest, and
is raised once. In batch mode, an item waiting for a batch
(``batch_wait.AwaitingBatch``) lets every other item run on, then the wait
is raised once: it ends the pass (``runs/batch_rounds.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from codeclm_dspy.engine.batch_wait import AwaitingBatch
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
    waiting: list[AwaitingBatch] = []  # batch mode: items that wait for a batch (engine/batch_wait.py)

    def safe(item):
        if stopped:
            return None
        try:
            return fn(item)
        except AwaitingBatch as wait:  # not a failure: the item goes on in the next pass
            waiting.append(wait)
            return None
        except Exception as exc:
            stop = as_stop(exc)
            if stop is None:
                return exc  # recorded as this item's failure, not lost
            stopped.append(stop)
            return None

    if workers <= 1 or len(items) <= 1:
        results = [(item, safe(item)) for item in items]
    else:
        results = _bounded(safe, items, workers, stopped)
    if stopped:
        raise stopped[0]
    if waiting:  # every item went as far as it could; the stage cannot go on without the rest
        raise waiting[0]
    return results


def _bounded(safe: Callable, items: list, workers: int, stopped: list) -> list[tuple[Any, Any]]:
    """``safe`` over ``items`` on ``workers`` threads, never more submitted than running.

    ``ThreadPoolExecutor.map`` would queue every item at once (a future and a
    work item each: megabytes for a 10,000-instruction stage); here a new
    item is submitted only when one finishes, so memory does not grow with
    the stage's length.
    """
    results: list = [None] * len(items)
    pending: dict[Future, int] = {}
    queue = iter(range(len(items)))
    with ThreadPoolExecutor(max_workers=workers) as pool:

        def top_up() -> None:
            while len(pending) < workers and not stopped and (i := next(queue, None)) is not None:
                pending[pool.submit(safe, items[i])] = i

        try:
            top_up()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i = pending.pop(future)
                    results[i] = (items[i], future.result())
                top_up()
        except KeyboardInterrupt:
            # Ctrl-C: nothing new starts, calls in flight finish and are
            # journaled, then the interrupt goes on up.
            stopped.append(RunStopped("interrupted"))
            raise
    # items never started (the run stopped) have no result
    return [(item, None) if r is None else r for item, r in zip(items, results, strict=True)]


def ticked(tick, fn, *args):
    """``fn(*args)``, then advance the progress bar (even on an error)."""
    try:
        return fn(*args)
    finally:
        tick()
