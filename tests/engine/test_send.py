"""One attempt's own time limit, and the allowance for LiteLLM's cold start in a fresh process."""

import asyncio

import litellm
import pytest

from codeclm_dspy.engine import send


@pytest.fixture
def slow_client(monkeypatch):
    """``litellm.acompletion`` answering after the delays given, one per call, in order."""
    delays: list[float] = []

    async def acompletion(**request):
        await asyncio.sleep(delays.pop(0))
        return {"content": "ok", "finish_reason": "stop", "usage": {}}

    monkeypatch.setattr(litellm, "acompletion", acompletion)
    monkeypatch.setattr(send, "_STARTED", set())  # a process that has sent nothing yet
    monkeypatch.setattr(send, "TIMEOUT_GRACE_S", 0.1)
    monkeypatch.setattr(send, "COLD_START_S", 1.0)
    return delays


def attempt(model: str = "openai/stub") -> dict:
    request = {"model": model, "messages": [{"role": "user", "content": "hi"}], "timeout": 0.1}
    return asyncio.run(send.send_once(**request))


def test_a_providers_first_call_in_a_process_may_outlast_its_timeout_while_litellm_starts(slow_client):
    slow_client += [0.5, 0.05]
    assert attempt()["content"] == "ok"  # 0.5 s: past timeout and grace, inside the cold start
    assert attempt()["content"] == "ok"


def test_once_a_call_returned_the_timeout_and_its_grace_hold(slow_client):
    slow_client += [0.05, 0.5]
    attempt()
    with pytest.raises(litellm.Timeout, match=r"no answer within 0\.1 s"):
        attempt()


def test_the_cold_start_is_per_provider_and_still_ends(slow_client):
    slow_client += [0.05, 0.5, 1.5]
    attempt("openai/stub")
    assert attempt("aiohttp_openai/stub")["content"] == "ok"  # its own first call
    with pytest.raises(litellm.Timeout):  # a hung server is still found, only later
        attempt("hosted_vllm/stub")
