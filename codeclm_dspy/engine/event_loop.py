"""The engine's event loop: every provider request of a run is a coroutine on this one loop.

Why: with one thread per request, 32 to 128 threads queued on the HTTP
client's connection-pool lock and on the GIL; as coroutines on one loop the
same requests share one connection pool without a lock (LiteLLM's aiohttp
transport), and a thousand waiting requests cost a thousand small objects,
not a thousand threads.

There is one such loop per process (``engine_loop()``), started on first
use and kept until the process exits: LiteLLM caches its HTTP clients
process-wide, and a client made on a loop that was closed cannot be used on
the next one, so runs in one process (a sweep's trials, tests) share it.

The loop runs on its own daemon thread. Code that is not async (DSPy's
synchronous modules, the optimizers' worker threads) hands a coroutine over
with ``run`` and waits for its result; async code running on this loop
awaits the engine directly, and async code on another loop awaits ``hop``.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

SYNC_THREADS = 128  # the largest concurrency the benchmarks use


class EngineLoop:
    """One asyncio loop on a daemon thread, started at construction."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        # a provider that only answers synchronously (a custom LiteLLM handler,
        # the embedded models) runs on these threads; asyncio's default pool
        # (cores + 4) would cap such a role's concurrency at 6 on 2 cores
        self.loop.set_default_executor(
            ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="codeclm-sync-call")
        )
        self._thread = threading.Thread(target=self._serve, name="codeclm-engine-loop", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def on_loop(self) -> bool:
        """True when the caller is running on this loop's thread."""
        return threading.current_thread() is self._thread

    def run(self, coro: Coroutine) -> Any:
        """Run ``coro`` on the loop from a thread that is not the loop's; return its result.

        A ``KeyboardInterrupt`` in the waiting thread leaves the coroutine
        running: a request already sent still lands in the journal.
        """
        if self.on_loop():
            coro.close()
            raise RuntimeError("a synchronous engine call on the engine's own loop would wait forever")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def hop(self, coro: Coroutine) -> Any:
        """Await ``coro`` on this loop from a coroutine on any loop."""
        if self.on_loop():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        """Close LiteLLM's HTTP sessions on the loop and stop it (at process exit)."""
        if self.loop.is_closed() or not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(_close_clients(), self.loop).result(timeout=5)
        except Exception as exc:  # exiting anyway: say so, do not fail the exit
            logger.debug("closing LiteLLM's async clients failed: %s", exc)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


async def _close_clients() -> None:
    import litellm

    closing = getattr(litellm, "close_litellm_async_clients", None)
    if closing is not None:
        await closing()


_shared: EngineLoop | None = None
_shared_lock = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child has no loop thread: it starts its own on first use."""
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def engine_loop() -> EngineLoop:
    """The process's engine loop, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = EngineLoop()
            atexit.register(_shared.close)
        return _shared
