"""``Runtime``: two calls of one item at once, and sync callers running a step's coroutine."""

import asyncio
import contextvars
import threading

import pytest

from codeclm_dspy.engine.parallel import apmap
from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.errors import BudgetExhausted

ASKED_BY = contextvars.ContextVar("asked_by", default="nobody")


async def fails_at_once():
    raise ValueError("unparseable output")


async def stops_later(landed: list):
    await asyncio.sleep(0.02)
    landed.append("the paid call")
    raise BudgetExhausted("budget reached (max_calls=1)")


def test_a_stop_in_either_half_stops_the_run_though_the_other_half_failed_first():
    # the item's own error came first; the stop must still reach apmap, or new items keep starting
    started, landed = [], []

    async def item(n):
        started.append(n)
        if n == 0:
            await Runtime.aboth(None, fails_at_once(), stops_later(landed))
        await asyncio.sleep(0.05)
        return n

    with pytest.raises(BudgetExhausted):
        apmap(item, range(10), workers=2)
    assert landed == ["the paid call"]  # both halves finished before the error travelled
    assert len(started) < 5


def test_a_cancelled_item_lets_the_started_ones_finish_before_it_is_raised():
    finished = []

    async def item(n):
        if n == 0:
            await asyncio.sleep(0.01)
            raise asyncio.CancelledError
        await asyncio.sleep(0.1)
        finished.append(n)
        return n

    with pytest.raises(asyncio.CancelledError):
        apmap(item, range(10), workers=4)
    assert sorted(finished) == [1, 2, 3]  # started before the cancellation, finished, nothing after


def test_a_sync_caller_runs_the_coroutine_in_its_own_context():
    # the optimizers call steps from their own threads: DSPy's settings and trace
    # live in context variables, and the step must see the caller's
    seen = {}

    async def step():
        return ASKED_BY.get(), threading.current_thread().name

    def optimizer_thread():
        ASKED_BY.set("optimizer")
        seen["value"], seen["thread"] = Runtime.run(None, step())

    worker = threading.Thread(target=optimizer_thread, name="optimizer-worker")
    worker.start()
    worker.join()
    assert seen == {"value": "optimizer", "thread": "codeclm-engine-loop"}
