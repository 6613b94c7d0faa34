"""A local chat server whose one answer carries the ``usage`` a test gives, on the engine's loop.

LiteLLM keeps its HTTP session per event loop, so the server and the calls
share the engine's; the stub server (``benchmarks/stub_server.py``) always
sends well-formed usage, which is not what these tests are about.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from codeclm_dspy.engine.event_loop import engine_loop


@contextmanager
def usage_server(usage: Any = None) -> Iterator[tuple[str, list[int]]]:
    """Serve ``/v1/chat/completions`` answering "Ucayali." with ``usage`` (None: no usage block).

    Yields:
        The ``/v1`` base URL and a list that gains one entry per request served.
    """
    hits: list[int] = []

    async def chat(request: web.Request) -> web.Response:
        hits.append(1)
        choice = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Ucayali."},
        }
        body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
        return web.json_response(body if usage is None else {**body, "usage": usage})

    async def start() -> tuple[web.AppRunner, int]:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]

    runner, port = engine_loop().run(start())
    try:
        yield f"http://127.0.0.1:{port}/v1", hits
    finally:
        engine_loop().run(runner.cleanup())
