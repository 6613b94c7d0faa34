"""Per-role limits hold requests back; budgets refuse the call past a cap."""

import asyncio
import threading
import time

import pytest

from codeclm_dspy.engine.budget import Budget, BudgetConfig
from codeclm_dspy.engine.limits import RoleLimiter
from codeclm_dspy.engine.routing import build_lms
from codeclm_dspy.errors import BudgetExhausted


def hammer(limiter: RoleLimiter, n: int, hold_s: float = 0.0, tokens: int = 0) -> tuple[int, list[float]]:
    """Run ``n`` requests at once through the limiter; return peak concurrency and start times."""
    inside, peak, starts = [0], [0], []

    async def one():
        async with limiter.slot():
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
            starts.append(time.monotonic())
            await asyncio.sleep(hold_s)
            inside[0] -= 1
        limiter.used(tokens)

    async def all_at_once():
        await asyncio.gather(*(one() for _ in range(n)))

    asyncio.run(all_at_once())
    return peak[0], sorted(starts)


def test_concurrency_never_exceeds_the_role_limit():
    peak, _ = hammer(RoleLimiter(concurrency=3), n=12, hold_s=0.05)
    assert peak == 3


def test_requests_per_window_wait_instead_of_bursting():
    _peak, starts = hammer(RoleLimiter(concurrency=10, rpm=4, window_s=0.5), n=8)
    assert starts[4] - starts[0] >= 0.45  # the fifth request waited for the window to move on
    assert sum(s - starts[0] < 0.45 for s in starts) == 4


def test_tokens_per_window_hold_back_new_requests():
    limiter = RoleLimiter(concurrency=1, tpm=100, window_s=0.5)
    _, starts = hammer(limiter, n=3, tokens=60)
    # 60 tokens fit, 120 do not: the third request waits for the first to age out
    assert starts[2] - starts[0] >= 0.45


def test_budget_refuses_the_call_past_a_cap_and_counts_earlier_sessions():
    budget = Budget(BudgetConfig(max_calls=5), calls=3)  # 3 calls made before a resume
    budget.reserve()
    budget.reserve()
    with pytest.raises(BudgetExhausted, match="max_calls=5"):
        budget.reserve()
    budget.release()  # a claimed call that never reached the provider
    budget.reserve()


def test_token_and_usd_caps():
    budget = Budget(BudgetConfig(max_tokens=100, max_usd=1.0))
    budget.reserve()
    budget.charge(tokens=100, usd=0.1)
    with pytest.raises(BudgetExhausted, match="max_tokens=100"):
        budget.reserve()
    budget = Budget(BudgetConfig(max_usd=1.0))
    budget.reserve()
    budget.charge(tokens=10, usd=1.5)
    with pytest.raises(BudgetExhausted, match="max_usd"):
        budget.reserve()


def test_max_in_flight_caps_requests_across_roles(script):
    """Roles that share one server: engine.max_in_flight bounds their sum."""
    from tests import scripted

    lock, inside, peak = threading.Lock(), [0], [0]

    def slow(role, inputs, params):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        time.sleep(0.05)
        with lock:
            inside[0] -= 1
        return "answer"

    script.handlers["respond"] = slow
    roles = {"concurrency": 8}
    config = scripted.config(
        models={
            "strong": {"model": "scripted/strong", **roles},
            "target": {"model": "scripted/target", **roles},
        },
        engine={"max_in_flight": 3},
    )
    engine = build_lms(config, check=False).engine
    threads = [
        threading.Thread(target=engine.complete, args=(role, [{"role": "user", "content": f"q{i}"}], {}))
        for i in range(12)
        for role in ("strong", "target")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 3 and len(script.calls) == 24
