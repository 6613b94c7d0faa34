"""``pmap``: input order, bounded work in flight, and a stop that skips what has not started."""

import time

import pytest

from codeclm_dspy.engine.parallel import pmap
from codeclm_dspy.errors import BudgetExhausted


def test_results_come_back_in_input_order_with_errors_as_results():
    def slow_then_fast(n):
        time.sleep(0.02 * (5 - n % 5))
        if n == 3:
            raise ValueError("item 3 is bad")
        return n * n

    results = pmap(slow_then_fast, range(10), workers=4)
    assert [item for item, _ in results] == list(range(10))
    assert isinstance(results[3][1], ValueError)
    assert [r for i, r in results if i != 3] == [i * i for i in range(10) if i != 3]


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
