"""An answer that arrives (HTTP 200) but cannot be read was paid for: booked, not retried.

One such answer fails only its item; enough of them in a row from one role
say the server garbles every answer, and stop the run (``unreadable_answers.py``).
"""

from __future__ import annotations

import re

import pytest

from benchmarks.stub_server import StubServer
from codeclm_dspy.config.engine import BudgetConfig
from codeclm_dspy.engine.budget import Budget
from codeclm_dspy.engine.calls import CallEngine
from codeclm_dspy.engine.limits import RoleLimiter
from codeclm_dspy.engine.unreadable_answers import FIRST_UNREADABLE, UNREADABLE_STREAK
from codeclm_dspy.errors import ProviderError, ProviderStopped
from codeclm_dspy.runs.run_state import RunState
from tests.engine.usage_server import usage_server
from tests.engine_helpers import SEEDS, manifest, rows, run_cli, stub_config, write_inputs

QUESTION = [{"role": "user", "content": "Name three rivers in Peru, with their lengths."}]
GARBLED = {"prompt_tokens": "many", "completion_tokens": 2}  # LiteLLM's OpenAI client cannot read it
READABLE = {"prompt_tokens": 12, "completion_tokens": 2}


@pytest.fixture
def garbled_server():
    """A server whose every answer carries a ``usage`` LiteLLM's OpenAI client cannot read."""
    with usage_server(GARBLED) as served:
        yield served


def engine_for(url: str, **kw) -> CallEngine:
    connection = {"model": "openai/m", "api_base": url, "api_key": "k", "timeout": 10}
    return CallEngine({"strong": connection}, {"strong": RoleLimiter(4)}, {"strong": 3}, **kw)


def ask(engine: CallEngine, n: int) -> dict:
    """A question of its own (no journal or single flight answers it from another)."""
    return engine.complete("strong", [{"role": "user", "content": f"Name river number {n} of Peru."}], {})


def test_an_unreadable_answer_is_not_retried_and_counts_against_the_budget_across_sessions(
    garbled_server, tmp_path
):
    url, hits = garbled_server
    for session in (1, 2):
        state = RunState(tmp_path / "state.sqlite")
        spent = state.spent()
        budget = Budget(BudgetConfig(max_calls=10), spent["calls"], spent["tokens"], spent["usd"])
        engine = engine_for(url, state=state, budget=budget)
        with pytest.raises(ProviderError, match="could not read the answer"):
            engine.complete("strong", QUESTION, {})
        engine.close()
        state.close()  # as a session ends: its journal writes are committed
        assert len(hits) == session  # one request a session: no retry pays for the same broken answer
        assert budget.calls == session and budget.tokens > 0
    assert RunState(tmp_path / "state.sqlite").spent()["calls"] == 2  # what a third session starts from


def test_a_server_garbling_every_answer_from_the_start_stops_the_run_soon(garbled_server, tmp_path):
    url, hits = garbled_server
    state = RunState(tmp_path / "state.sqlite")
    engine = engine_for(url, state=state)
    for n in range(FIRST_UNREADABLE - 1):
        with pytest.raises(ProviderError, match="could not read the answer"):
            ask(engine, n)
    with pytest.raises(ProviderStopped) as stopped:
        ask(engine, FIRST_UNREADABLE)
    engine.close()
    message = str(stopped.value)
    port = url.split(":")[2].split("/")[0]
    assert (
        f"the strong model's provider at 127.0.0.1:{port} (openai/m) sent {FIRST_UNREADABLE} answers"
        in message
    )
    assert "could not read" in message and "paid" in message and "\n" not in message
    assert "run the same command again to resume" in message
    assert engine.stopped is stopped.value  # what the compiler looks at after a catch-all
    assert len(hits) == FIRST_UNREADABLE and state.spent()["calls"] == FIRST_UNREADABLE  # all booked


def test_after_a_readable_answer_it_takes_the_full_streak_and_a_readable_answer_resets_it():
    script = [READABLE, *[GARBLED] * (UNREADABLE_STREAK - 1), READABLE, *[GARBLED] * UNREADABLE_STREAK]
    with usage_server(lambda served: script[served]) as (url, hits):
        engine = engine_for(url)
        outcomes = []
        for n in range(len(script)):
            try:
                outcomes.append(ask(engine, n)["content"])
            except ProviderStopped:
                outcomes.append("stopped")
            except ProviderError:
                outcomes.append("failed")
        engine.close()
    streak = ["failed"] * (UNREADABLE_STREAK - 1)
    assert outcomes == ["Ucayali.", *streak, "Ucayali.", *streak, "stopped"]
    assert len(hits) == len(script)


def test_a_run_against_a_server_garbling_every_answer_stops_and_the_same_command_resumes(
    monkeypatch, tmp_path
):
    """Not every item failed and the run "complete" with nothing in it: exit 4 and one
    line after a few paid answers; once the server answers properly, the same command
    ends with the dataset of a run that never met it, the paid answers still counted."""
    monkeypatch.setenv("STUB_API_KEY", "sk-stub-test")
    out = tmp_path / "run"
    with usage_server(GARBLED) as (url, hits):
        config, seeds = write_inputs(tmp_path, stub_config(url, num_retries=0))
        stopped = run_cli(config, seeds, out, tmp_path)
        port = int(url.split(":")[2].split("/")[0])
        paid = len(hits)
    assert stopped.returncode == 4, stopped.stderr
    # one line: not LiteLLM's pydantic warning about the usage, nor "reported no token usage"
    errors = stopped.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("codeclm: error:"), stopped.stderr
    pattern = (
        rf"the (\w+) model's provider at 127\.0\.0\.1:{port} \(openai/stub-\1\) sent \d+ answers in a row"
    )
    assert re.search(pattern, errors[0]) and "run the same command again to resume" in errors[0], errors[0]
    # and why: what LiteLLM's message says was wrong, not its traceback nor the whole answer
    assert "(ValidationError: 1 validation error for Usage; prompt_tokens; Input should be" in errors[0]
    assert "Traceback" not in errors[0] and "Ucayali" not in errors[0]
    assert "sk-stub-test" not in stopped.stderr
    state = manifest(out)
    assert state["status"] == "stopped" and state["usage"]["calls"] == paid  # each one booked as paid
    assert paid < 8  # it stopped soon; it did not pay for every seed's every call
    assert len([r for r in rows(out / "rejected.jsonl") if r["outcome"] == "failed"]) < len(SEEDS)

    with StubServer(delay_ms=1, port=port):  # the same URL, answering properly now
        resumed = run_cli(config, seeds, out, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        reference = run_cli(config, seeds, tmp_path / "reference", tmp_path)
        assert reference.returncode == 0, reference.stderr
    done, ref = manifest(out), manifest(tmp_path / "reference")
    assert done["status"] == "complete" and done["accounting"]["balanced"], done["accounting"]
    for name in ("kept.jsonl", "rejected.jsonl"):
        assert rows(out / name) == rows(tmp_path / "reference" / name), name
    assert done["counts"] == ref["counts"]
    assert done["usage"]["calls"] == ref["usage"]["calls"] + paid  # no answer replayed, none forgotten


def test_the_reason_names_what_was_wrong_never_the_answer():
    from codeclm_dspy.engine.unreadable_answers import reason

    head = "litellm.InternalServerError: OpenAIException - Invalid response object Traceback (most recent"
    content = (
        f'{head} call last):\n  File "convert.py", line 1\npydantic_core._pydantic_core.ValidationError: '
        "1 validation error for Message\ncontent\n  Input should be a valid string [type=string_type, "
        "input_value={'text': 'the answer'}, input_type=dict]\n    For further information visit x\n\n"
        "received_args={'content': {'text': 'the answer'}}"
    )
    assert (
        reason(Exception(content))
        == "ValidationError: 1 validation error for Message; content; Input should be a valid string"
    )
    chained = (
        f"{head} call last):\n  File \"a\"\nKeyError: 'choices'\n\nDuring handling of the above exception, "
        'another exception occurred:\n\nTraceback (most recent call last):\n  File "b"\n'
        "Exception: Error in response object format\n\nreceived_args={}"
    )
    assert reason(Exception(chained)) == "Exception: Error in response object format"
    assert reason(Exception("Invalid response object: no traceback")) == ""
