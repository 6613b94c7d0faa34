"""``CallEngine`` on its own: identical requests in flight are sent once, and the
run's journal answers what it already holds and records every answer before
it is used (what makes a resume exact and a run independent of thread timing).
"""

import threading

import litellm
import pytest

from codeclm_dspy.engine import calls
from codeclm_dspy.engine.calls import step
from codeclm_dspy.runs.run_state import RunState
from tests.engine.fake_provider import (
    MODEL,
    WAIT_S,
    FakeProvider,
    MemoryJournal,
    ask,
    engine,
    in_threads,
    install,
)


def parked_followers(monkeypatch) -> threading.Semaphore:
    """A semaphore released each time a request starts waiting for an identical one in flight.

    The engine parks a follower on the leader's future (``_follow``);
    counting those waits lets the test release the provider only once every
    follower is parked, so "at the same time" is certain rather than likely.
    """
    parked = threading.Semaphore(0)
    follow = calls.CallEngine._follow

    async def watched(self, leader):
        parked.release()
        return await follow(self, leader)

    monkeypatch.setattr(calls.CallEngine, "_follow", watched)
    return parked


@pytest.mark.parametrize("fails", [False, True], ids=["answer", "error"])
def test_identical_requests_in_flight_together_are_sent_once(monkeypatch, fails):
    hold = threading.Event()
    error = litellm.BadRequestError("the provider refused it", model=MODEL, llm_provider="openai")
    provider = install(monkeypatch, FakeProvider(hold=hold, fail=error if fails else None))
    parked = parked_followers(monkeypatch)
    eng, n = engine(), 6

    def when_all_are_waiting():
        provider.wait_until(lambda p: p.calls == 1, "the first request reached the provider")
        for _ in range(n - 1):
            assert parked.acquire(timeout=WAIT_S), "a follower never started waiting"
        hold.set()

    results = in_threads(
        eng.complete, [("strong", ask("same"), {"temperature": 0.7})] * n, when_all_are_waiting
    )
    assert provider.calls == 1
    if fails:  # the leader's error is every follower's error: none retries it behind its back
        assert all(r is error for r in results)
    else:
        assert all(r == results[0] for r in results)
        assert results[0]["content"] == "answer to same" and results[0]["finish_reason"] == "stop"
        assert results[0]["usage"] == {"prompt_tokens": 7, "completion_tokens": 5}
        assert eng.meter.calls["provider"] == 1


def test_different_rollouts_are_different_requests_and_the_rollout_is_never_sent(monkeypatch):
    hold = threading.Event()
    provider = install(monkeypatch, FakeProvider(hold=hold))
    eng = engine(state=MemoryJournal())

    def both_in_flight():  # not merged into one: both reach the provider before either answers
        provider.wait_until(lambda p: p.in_flight == 2, "two rollouts in flight together")
        hold.set()

    first, second = in_threads(
        eng.complete, [("strong", ask("q"), {}, 1), ("strong", ask("q"), {}, 2)], both_in_flight
    )
    assert provider.calls == 2 and first == second  # same prompt, two separately paid answers
    eng.complete("strong", ask("q"), {})  # no rollout: a third request
    assert provider.calls == 3
    assert all("rollout" not in params for _, params in provider.requests)
    eng.complete("strong", ask("q"), {}, 2)  # a rollout asked again is the same request
    assert provider.calls == 3


def test_a_recorded_answer_is_replayed_without_a_provider_call(monkeypatch, tmp_path):
    provider = install(monkeypatch, FakeProvider())
    state = RunState(tmp_path / "state.sqlite")
    with step("decode"):
        first = engine(state=state).complete("strong", ask("hello"), {"temperature": 0.7})
    state.close()

    resumed = engine(state=RunState(tmp_path / "state.sqlite"))  # a new session of the same run
    again = resumed.complete("strong", ask("hello"), {"temperature": 0.7})
    assert provider.calls == 1 and again == first
    assert resumed.meter.calls["journal"] == 1 and resumed.meter.calls["provider"] == 0
    # what the budget of a resumed run starts from: the first session's provider call
    assert resumed.state.spent()["calls"] == 1 and resumed.state.spent()["tokens"] == 12
    resumed.complete("strong", ask("hello"), {"temperature": 0.2})  # another request is sent
    assert provider.calls == 2


def test_every_provider_answer_is_recorded_before_it_is_returned(monkeypatch):
    provider = install(monkeypatch, FakeProvider())
    journal = MemoryJournal()
    with step("judge"):
        answer = engine(state=journal).complete("strong", ask("rate these"), {"temperature": 0.0})
    (row,) = journal.rows.values()
    assert row["response"] == answer
    assert (row["role"], row["step"], row["model"], row["source"]) == ("strong", "judge", MODEL, "provider")
    assert provider.calls == 1

    # an answer that cannot be recorded is not used: the caller sees the failure
    with pytest.raises(OSError, match="disk full"):
        engine(state=MemoryJournal(broken=True)).complete("strong", ask("rate these"), {})


def streak_stops(monkeypatch, error: BaseException, first: int, streak: int, says: str) -> None:
    """``error`` on every request fails each one alone, until ``first`` of one role in a row
    before its first answer, or ``streak`` after one, stop the run; an answer resets the count."""
    from codeclm_dspy.errors import ProviderStopped

    provider = install(monkeypatch, FakeProvider(fail=error))
    eng = engine()
    prompts = (ask(f"prompt {i}") for i in range(100))

    def outcomes(n: int) -> list[str]:
        found = []
        for _ in range(n):
            try:
                eng.complete("strong", next(prompts), {})
                found.append("answer")
            except ProviderStopped as exc:
                found.append("stop")
                assert f"the strong model's provider at 127.0.0.1:9 (openai/fake-model) {says}" in str(exc)
                assert "run the same command again" in str(exc)
            except Exception:
                found.append("failed")
        return found

    assert outcomes(first) == ["failed"] * (first - 1) + ["stop"]
    provider.fail = None
    assert outcomes(1) == ["answer"]
    provider.fail = error
    assert outcomes(streak) == ["failed"] * (streak - 1) + ["stop"]
    provider.fail = None
    assert outcomes(1) == ["answer"]  # an answer resets the count
    provider.fail = error
    assert outcomes(streak - 1) == ["failed"] * (streak - 1)


def test_read_timeouts_in_a_row_stop_the_run_and_an_answer_between_resets_the_count(monkeypatch):
    """A read timeout fails only its request (one long answer can outlast it), until
    enough of one role come in a row with no answer between: a hung server."""
    from codeclm_dspy.engine.timeouts import FIRST_TIMEOUTS, TIMEOUT_STREAK

    timeout = litellm.Timeout("no answer within 30 s", model=MODEL, llm_provider="openai")
    streak_stops(monkeypatch, timeout, FIRST_TIMEOUTS, TIMEOUT_STREAK, "answered none")


@pytest.mark.parametrize(
    "error",
    [
        litellm.InternalServerError("500: upstream died", model=MODEL, llm_provider="openai"),
        litellm.APIError(
            200, "Empty or invalid response from LLM endpoint", llm_provider="openai", model=MODEL
        ),
        IndexError("list index out of range"),  # an answer whose `choices` is empty
    ],
    ids=["500", "html-body", "no-choices"],
)
def test_failed_calls_in_a_row_stop_the_run_instead_of_failing_every_item(monkeypatch, error):
    """A server that errs on every request would fail every item, one call at a time, and
    end the run "complete" with nothing in it: enough failed calls of one role in a row
    stop it instead."""
    from codeclm_dspy.engine.failed_calls import FAILURE_STREAK, FIRST_FAILURES

    streak_stops(monkeypatch, error, FIRST_FAILURES, FAILURE_STREAK, "failed")


def test_requests_the_server_refused_as_malformed_fail_only_their_items(monkeypatch):
    # a prompt past the context window says nothing about the next one
    refused = litellm.BadRequestError("prompt is too long", model=MODEL, llm_provider="openai")
    install(monkeypatch, FakeProvider(fail=refused))
    eng = engine()
    for i in range(20):
        with pytest.raises(litellm.BadRequestError):
            eng.complete("strong", ask(f"prompt {i}"), {})


def test_a_credential_in_an_answer_is_masked_as_it_arrives_so_a_resume_reads_the_same(monkeypatch, tmp_path):
    from codeclm_dspy import secrets
    from codeclm_dspy.pipeline.quality import Gates

    monkeypatch.setattr(secrets, "_KNOWN", set())
    secrets.register("EMPTY")  # a local server's "key": a word in answers, never masked there
    leaked = "sk-proj-" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9nP2rS5uV8xA1"
    install(monkeypatch, FakeProvider())
    state = RunState(tmp_path / "state.sqlite")
    first = engine(state=state).complete("strong", ask(f"EMPTY rows, key {leaked}"), {})
    state.close()
    resumed = engine(state=RunState(tmp_path / "state.sqlite")).complete(
        "strong", ask(f"EMPTY rows, key {leaked}"), {}
    )
    assert first == resumed and leaked not in first["content"] and "EMPTY rows" in first["content"]
    assert Gates().answer(first["content"]).reason == "secret"  # refused alike in both sessions
    assert leaked not in (tmp_path / "state.sqlite").read_bytes().decode("utf-8", "replace")
