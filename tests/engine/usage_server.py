"""A local chat server whose answers carry the ``usage`` a test gives, on the engine's loop.

LiteLLM keeps its HTTP session per event loop, so the server and the calls
share the engine's; the stub server (``benchmarks/stub_server.py``) always
sends well-formed usage, which is not what these tests are about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from codeclm_dspy.engine.event_loop import engine_loop


@contextmanager
def usage_server(usage: Any | Callable[[int], Any] = None) -> Iterator[tuple[str, list[int]]]:
    """Serve ``/v1/chat/completions`` answering "Ucayali." with ``usage`` (None: no usage block).

    Args:
        usage: the usage block of every answer, or a function of how many
            requests were served before (a server that breaks or heals mid-test).

    Yields:
        The ``/v1`` base URL and a list that gains one entry per request served.
    """
    hits: list[int] = []

    async def chat(request: web.Request) -> web.Response:
        block = usage(len(hits)) if callable(usage) else usage
        hits.append(1)
        choice = {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Ucayali."},
        }
        body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [choice]}
        return web.json_response(body if block is None else {**body, "usage": block})

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
