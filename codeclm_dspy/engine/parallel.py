"""Items in parallel, stopping cleanly: ``apmap`` as coroutines, ``pmap`` on threads.

A CodecLM run's items are coroutines on the engine's loop (``apmap``): 128
items waiting on the network are 128 small objects, not 128 threads taking
turns at the GIL. ``pmap`` runs plain functions on threads, for code that is
not async (the evaluators, the baselines, the optimizers' helpers).

An item's own error comes back as its result (the caller records it as that
item's failure); an error that stops the run (``retries.as_stop``: a budget,
a dead provider) lets the items already started finish, skips the rest, and
is raised once. In batch mode, an item waiting for a batch
(``batch_wait.AwaitingBatch``) lets every other item run on, then the wait
is raised once: it ends the pass (``runs/batch_rounds.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from codeclm_dspy.engine.batch_wait import AwaitingBatch
from codeclm_dspy.engine.event_loop import engine_loop
from codeclm_dspy.engine.retries import as_stop
from codeclm_dspy.errors import RunStopped


class _Outcomes:
    """What ends an item other than its result: a stop of the run, a wait for a batch."""

    def __init__(self):
        self.stopped: list[RunStopped] = []
        self.waiting: list[AwaitingBatch] = []  # batch mode: items that wait for a batch
        self.fatal: list[BaseException] = []  # neither an error nor a wait (a cancellation): raised as it is

    def caught(self, exc: BaseException):
        """The item's result for ``exc``: the error itself (its failure), or None (a stop, a wait)."""
        if isinstance(exc, AwaitingBatch):  # not a failure: the item goes on in the next pass
            self.waiting.append(exc)
            return None
        stop = as_stop(exc)
        if stop is None:
            return exc  # recorded as this item's failure, not lost
        self.stopped.append(stop)
        return None

    def raise_any(self) -> None:
        """Raise the first stop, else the first wait (once every started item has finished)."""
        if self.fatal:
            raise self.fatal[0]
        if self.stopped:
            raise self.stopped[0]
        if self.waiting:  # every item went as far as it could; the stage cannot go on without the rest
            raise self.waiting[0]


def pmap(fn: Callable, items: Iterable, workers: int) -> list[tuple[Any, Any]]:
    """``[(item, result_or_exception)]`` in input order.

    An error that stops the run (a budget, a dead provider) is raised once
    every item already started has finished, and items not yet started are
    skipped, so nothing is recorded as failed for a reason outside it.
    """
    items = list(items)
    outcomes = _Outcomes()

    def safe(item):
        if outcomes.stopped:
            return None
        try:
            return fn(item)
        except (Exception, AwaitingBatch) as exc:
            return outcomes.caught(exc)

    if workers <= 1 or len(items) <= 1:
        results = [(item, safe(item)) for item in items]
    else:
        results = _bounded(safe, items, workers, outcomes.stopped)
    outcomes.raise_any()
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


def apmap(
    fn: Callable[[Any], Awaitable],
    items: Iterable,
    workers: int,
    admit: Callable[[int, int], bool] | None = None,
) -> list[tuple[Any, Any]]:
    """``pmap`` for a coroutine function: each item a coroutine on the engine's loop.

    The same contract: ``[(item, result_or_exception)]`` in input order, at
    most ``workers`` items at a time (a new one starts as soon as one
    finishes: no item waits for the slowest of a batch), and an error that
    stops the run raised once the items already started have finished, the
    rest skipped. Called from code that is not async; it waits. Ctrl-C starts
    nothing new, lets the started items finish (their calls are journaled),
    then goes on up.

    Args:
        admit: ``admit(started, in_flight)``, asked before each next item
            starts and again whenever one finishes; items start in input
            order only while it says yes, and the result covers the items
            started (a prefix of ``items``). The quota streams with it. Items
            that wait for a batch count as in flight.
    """
    items = list(items)
    outcomes = _Outcomes()

    async def safe(item):
        if outcomes.stopped or outcomes.fatal:
            return None
        try:
            return await fn(item)
        except (Exception, AwaitingBatch) as exc:
            return outcomes.caught(exc)
        except BaseException as exc:  # nothing new starts; the started items finish first
            outcomes.fatal.append(exc)
            return None

    def may_start(started: int, running: int) -> bool:
        if outcomes.stopped or outcomes.fatal or started >= len(items) or running >= max(workers, 1):
            return False
        # an item waiting for a batch has no outcome yet: it is still in flight for the rule
        return admit is None or admit(started, running + len(outcomes.waiting))

    async def stream() -> list:
        results: list = []
        pending: dict[asyncio.Task, int] = {}
        while True:
            while may_start(len(results), len(pending)):
                pending[asyncio.ensure_future(safe(items[len(results)]))] = len(results)
                results.append(None)
            if not pending:
                return results
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                results[pending.pop(task)] = task.result()

    loop = engine_loop()
    if loop.on_loop():
        raise RuntimeError("apmap waits for the engine's loop: it cannot run on it")
    future = asyncio.run_coroutine_threadsafe(stream(), loop.loop)
    try:
        results = future.result()
    except KeyboardInterrupt:
        loop.loop.call_soon_threadsafe(outcomes.stopped.append, RunStopped("interrupted"))
        future.result()  # what started finishes and is journaled
        raise
    outcomes.raise_any()
    return list(zip(items, results, strict=False))


def ticked(tick, fn, *args):
    """``fn(*args)``, then advance the progress bar (even on an error)."""
    try:
        return fn(*args)
    finally:
        tick()


async def aticked(tick, awaitable: Awaitable):
    """``await awaitable``, then advance the progress bar (even on an error)."""
    try:
        return await awaitable
    finally:
        tick()
