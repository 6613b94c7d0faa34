"""The budget and the role limiter as ``CallEngine`` applies them to requests.

``test_limits_and_budget.py`` checks ``Budget`` and ``RoleLimiter`` on their
own; here they stand between a request and the (fake) provider: a request
past the cap never reaches it, a failed call gives its slot back, and what
the limiter allows is what the provider sees.
"""

import threading
import time

import litellm
import pytest

from codeclm_dspy.engine.budget import Budget, BudgetConfig
from codeclm_dspy.engine.limits import RoleLimiter
from codeclm_dspy.errors import BudgetExhausted
from tests.engine.fake_provider import MODEL, FakeProvider, MemoryJournal, ask, engine, in_threads, install


def test_the_request_past_the_call_cap_never_reaches_the_provider(monkeypatch):
    provider = install(monkeypatch, FakeProvider())
    eng = engine(budget=Budget(BudgetConfig(max_calls=2)), state=MemoryJournal())
    first = eng.complete("strong", ask("one"), {})
    eng.complete("strong", ask("two"), {})
    with pytest.raises(BudgetExhausted, match="max_calls=2"):
        eng.complete("strong", ask("three"), {})
    assert provider.calls == 2
    assert isinstance(eng.stopped, BudgetExhausted)  # what the compiler checks after DSPy swallowed it
    assert eng.budget.tokens == 24  # both answers' tokens charged
    # answers already received cost nothing: a run past its cap still replays them
    assert eng.complete("strong", ask("one"), {}) == first and provider.calls == 2


def test_a_failed_call_gives_its_budget_slot_back(monkeypatch):
    refusal = litellm.BadRequestError("context too long", model=MODEL, llm_provider="openai")
    provider = install(monkeypatch, FakeProvider(fail=refusal))
    eng = engine(budget=Budget(BudgetConfig(max_calls=1)))
    with pytest.raises(litellm.BadRequestError):
        eng.complete("strong", ask("too long"), {})
    assert eng.budget.calls == 0 and eng.stopped is None  # it fails its item, not the run

    provider.fail = None
    assert eng.complete("strong", ask("short"), {})["content"] == "answer to short"  # the slot was free
    with pytest.raises(BudgetExhausted):
        eng.complete("strong", ask("another"), {})
    assert provider.calls == 2


def test_no_more_requests_in_flight_than_the_role_allows(monkeypatch):
    hold = threading.Event()
    provider = install(monkeypatch, FakeProvider(hold=hold))
    eng = engine(limiter=RoleLimiter(concurrency=2))

    def at_the_limit():
        provider.wait_until(lambda p: p.in_flight == 2, "two requests in flight")
        time.sleep(0.3)  # time for a third to slip through, were the limit not held
        assert provider.in_flight == 2 and provider.calls == 2
        hold.set()

    results = in_threads(eng.complete, [("strong", ask(f"q{i}"), {}) for i in range(6)], at_the_limit)
    assert [r["content"] for r in results] == [f"answer to q{i}" for i in range(6)]
    assert provider.calls == 6 and provider.peak == 2


def test_the_request_past_the_rate_waits_for_the_window_and_replays_do_not(monkeypatch):
    provider = install(monkeypatch, FakeProvider())
    window = 0.5
    eng = engine(limiter=RoleLimiter(concurrency=8, rpm=2, window_s=window), state=MemoryJournal())
    for text in ("a", "b", "c"):
        eng.complete("strong", ask(text), {})
    first, second, third = provider.starts
    assert second - first < window * 0.8  # the allowance is used at once ...
    assert third - first >= window * 0.9  # ... and the third start waits for the window to move on

    started = time.monotonic()
    for text in ("a", "b", "c"):  # answered by the journal: no start, so no wait
        eng.complete("strong", ask(text), {})
    assert time.monotonic() - started < window * 0.5 and provider.calls == 3
