"""LiteLLM's ``aiohttp_openai/`` client reads the token counts the server sent, not 0."""

from __future__ import annotations

from codeclm_dspy.engine.event_loop import engine_loop
from codeclm_dspy.engine.send import plain, send_once
from codeclm_dspy.engine.usage import count_missing
from tests.engine.usage_server import usage_server

MESSAGES = [{"role": "user", "content": "Name three rivers in Peru."}]


def answer_from_server(usage, provider: str = "aiohttp_openai") -> dict:
    """One call through ``send_once`` to a local server whose answer carries ``usage`` (None: no usage)."""
    with usage_server(usage) as (url, _):
        request = {"model": f"{provider}/m", "messages": MESSAGES, "timeout": 10}
        return plain(engine_loop().run(send_once(api_base=url, api_key="k", **request)))


def test_the_servers_own_counts_are_booked_for_either_client():
    sent = {"prompt_tokens": 23, "completion_tokens": 4, "total_tokens": 27}
    for provider in ("aiohttp_openai", "openai"):
        got = answer_from_server(sent, provider)
        assert got["usage"] == {"prompt_tokens": 23, "completion_tokens": 4}, provider
        assert not count_missing(f"{provider}/m", MESSAGES, got)  # nothing to estimate


def test_a_server_without_usage_or_with_a_broken_one_is_still_estimated_not_free():
    for usage in (None, {"prompt_tokens": -3, "completion_tokens": 4}, {"prompt_tokens": "23"}):
        got = answer_from_server(usage)
        assert count_missing("aiohttp_openai/m", MESSAGES, got), usage
        assert got["usage"]["prompt_tokens"] > 0 and got["usage"]["completion_tokens"] > 0
