"""An answer that arrives (HTTP 200) but cannot be read was paid for: booked, not retried."""

from __future__ import annotations

import pytest

from codeclm_dspy.config.engine import BudgetConfig
from codeclm_dspy.engine.budget import Budget
from codeclm_dspy.engine.calls import CallEngine
from codeclm_dspy.engine.limits import RoleLimiter
from codeclm_dspy.errors import ProviderError
from codeclm_dspy.runs.run_state import RunState
from tests.engine.usage_server import usage_server

QUESTION = [{"role": "user", "content": "Name three rivers in Peru, with their lengths."}]


@pytest.fixture
def garbled_server():
    """A server whose every answer carries a ``usage`` LiteLLM's OpenAI client cannot read."""
    with usage_server({"prompt_tokens": "many", "completion_tokens": 2}) as served:
        yield served


def test_an_unreadable_answer_is_not_retried_and_counts_against_the_budget_across_sessions(
    garbled_server, tmp_path
):
    url, hits = garbled_server
    for session in (1, 2):
        state = RunState(tmp_path / "state.sqlite")
        spent = state.spent()
        budget = Budget(BudgetConfig(max_calls=10), spent["calls"], spent["tokens"], spent["usd"])
        connection = {"model": "openai/m", "api_base": url, "api_key": "k", "timeout": 10}
        engine = CallEngine(
            {"strong": connection}, {"strong": RoleLimiter(4)}, {"strong": 3}, state=state, budget=budget
        )
        with pytest.raises(ProviderError, match="could not read the answer"):
            engine.complete("strong", QUESTION, {})
        engine.close()
        assert len(hits) == session  # one request a session: no retry pays for the same broken answer
        assert budget.calls == session and budget.tokens > 0
    assert RunState(tmp_path / "state.sqlite").spent()["calls"] == 2  # what a third session starts from
