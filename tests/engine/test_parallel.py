"""``pmap`` and ``apmap``: input order, bounded work in flight, and a stop that skips what has not started."""

import asyncio
import time

import pytest

from codeclm_dspy.engine.parallel import apmap, pmap
from codeclm_dspy.errors import BudgetExhausted


def test_results_come_back_in_input_order_with_errors_as_results():
    def slow_then_fast(n):
        time.sleep(0.02 * (5 - n % 5))
        if n == 3:
            raise ValueError("item 3 is bad")
        return n * n

    in_order_with_item_3_failed(pmap(slow_then_fast, range(10), workers=4), 10)


def in_order_with_item_3_failed(results, n):
    assert [item for item, _ in results] == list(range(n))
    assert isinstance(results[3][1], ValueError)
    assert [r for i, r in results if i != 3] == [i * i for i in range(n) if i != 3]


def test_no_more_items_are_queued_than_there_are_workers(monkeypatch):
    """A long stage holds a few futures at a time, not one per item (memory stays flat)."""
    from codeclm_dspy.engine import parallel

    outstanding, peak = set(), [0]

    class Watched(parallel.ThreadPoolExecutor):
        def submit(self, fn, *args, **kwargs):
            future = super().submit(fn, *args, **kwargs)
            outstanding.add(future)
            peak[0] = max(peak[0], sum(not f.done() for f in outstanding))
            return future

    monkeypatch.setattr(parallel, "ThreadPoolExecutor", Watched)
    results = pmap(lambda n: time.sleep(0.002) or n, range(200), workers=8)
    assert [r for _, r in results] == list(range(200))
    assert len(outstanding) == 200 and peak[0] <= 8


def test_a_stop_finishes_what_started_and_skips_the_rest():
    started = []

    def work(n):
        started.append(n)
        if n == 5:
            raise BudgetExhausted("budget reached (max_calls=5)")
        time.sleep(0.01)
        return n

    with pytest.raises(BudgetExhausted):
        pmap(work, range(100), workers=4)
    assert len(started) < 20  # the stop kept the other 80-odd items from starting


def test_apmap_keeps_order_and_never_waits_for_the_slowest_item():
    """A slow item holds its own slot only: the others stream past it."""
    finished = []

    async def work(n):
        await asyncio.sleep(0.3 if n == 0 else 0.01)
        finished.append(n)
        if n == 3:
            raise ValueError("item 3 is bad")
        return n * n

    in_order_with_item_3_failed(apmap(work, range(12), workers=2), 12)
    # with waves of two, item 2 would have waited 0.3 s for item 0; here all ran past it
    assert finished[-1] == 0 and finished[:11] == list(range(1, 12))


def test_apmap_admits_a_prefix_while_the_rule_says_yes():
    """The quota's rule: start the next item only while kept + in flight < quota."""
    kept = []

    async def work(n):
        await asyncio.sleep(0.001 * (7 - n % 7))  # finish out of order
        if n % 3 == 0:
            kept.append(n)
        return n

    results = apmap(work, range(30), workers=4, admit=lambda started, flying: len(kept) + flying < 5)
    started = [n for n, _ in results]
    # the smallest prefix holding five multiples of three: 0, 3, 6, 9, 12
    assert started == list(range(13)) and sorted(kept) == [0, 3, 6, 9, 12]


def test_apmap_stop_finishes_what_started_and_skips_the_rest():
    started = []

    async def work(n):
        started.append(n)
        if n == 5:
            raise BudgetExhausted("budget reached (max_calls=5)")
        await asyncio.sleep(0.01)
        return n

    with pytest.raises(BudgetExhausted):
        apmap(work, range(100), workers=4)
    assert len(started) < 20
