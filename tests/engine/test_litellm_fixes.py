"""LiteLLM's ``aiohttp_openai/`` client reads the token counts the server sent, not 0."""

from __future__ import annotations

from aiohttp import web

from codeclm_dspy.engine.event_loop import engine_loop
from codeclm_dspy.engine.send import plain, send_once
from codeclm_dspy.engine.usage import count_missing

MESSAGES = [{"role": "user", "content": "Name three rivers in Peru."}]


def answer_from_server(usage, provider: str = "aiohttp_openai") -> dict:
    """One call through ``send_once`` to a local server whose answer carries ``usage``."""

    async def chat(request: web.Request) -> web.Response:
        choice = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Ucayali."},
        }
        body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
        return web.json_response(body if usage is None else {**body, "usage": usage})

    async def call() -> dict:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            request = {"model": f"{provider}/m", "messages": MESSAGES, "timeout": 10}
            return plain(await send_once(api_base=f"http://127.0.0.1:{port}/v1", api_key="k", **request))
        finally:
            await runner.cleanup()

    return engine_loop().run(call())  # LiteLLM keeps its HTTP session per loop: the engine's one


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
