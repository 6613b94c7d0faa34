"""A fake transport for ``CallEngine`` unit tests: no server, no LiteLLM call.

It stands in for ``complete_with_retries`` (the engine's last step before the
network), so a test sees exactly which requests reached "the provider", how
many were in flight at once and when each started, and can hold them there
on an event to make "at the same time" a fact rather than a race.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import litellm

from codeclm_dspy.engine import calls
from codeclm_dspy.engine.calls import CallEngine
from codeclm_dspy.engine.limits import RoleLimiter

MODEL = "openai/fake-model"  # not in LiteLLM's cost map: calls cost None, like a local server
CONNECTION = {"model": MODEL, "api_base": "http://127.0.0.1:9/v1"}
WAIT_S = 10.0  # how long a test waits for something that should happen at once


class FakeProvider:
    """Answers every request with a ``litellm.ModelResponse`` naming its prompt.

    Args:
        hold: when given, each call waits for this event before answering.
        fail: when given, each call raises this instead of answering.
    """

    def __init__(self, hold: threading.Event | None = None, fail: BaseException | None = None):
        self.hold, self.fail = hold, fail
        self.requests: list[tuple[list[dict], dict]] = []
        self.starts: list[float] = []
        self.in_flight = self.peak = 0
        self._cond = threading.Condition()

    def __call__(self, connection: dict, messages: list[dict], params: dict, retries: int):
        with self._cond:
            self.requests.append((messages, dict(params)))
            self.starts.append(time.monotonic())
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._cond.notify_all()
        try:
            if self.hold is not None:
                assert self.hold.wait(WAIT_S), "the test never released the provider"
            if self.fail is not None:
                raise self.fail
            return litellm.ModelResponse(
                choices=[
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": f"answer to {messages[-1]['content']}"},
                    }
                ],
                usage={"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
            )
        finally:
            with self._cond:
                self.in_flight -= 1
                self._cond.notify_all()

    @property
    def calls(self) -> int:
        return len(self.requests)

    def wait_until(self, ready, what: str) -> None:
        """Block until ``ready(self)`` holds, failing the test after ``WAIT_S``."""
        with self._cond:
            assert self._cond.wait_for(lambda: ready(self), timeout=WAIT_S), f"never reached: {what}"


class MemoryJournal:
    """The ``Journal`` protocol in a dict; ``broken`` makes recording fail (a full disk)."""

    def __init__(self, broken: bool = False):
        self.rows: dict[str, dict] = {}
        self.broken = broken

    def recorded_call(self, key):
        row = self.rows.get(key)
        return row["response"] if row else None

    def record_call(self, key, **details):
        if self.broken:
            raise OSError("disk full")
        self.rows.setdefault(key, details)

    def spent(self):
        provider = [r for r in self.rows.values() if r["source"] == "provider"]
        return {"calls": len(provider), "tokens": 0, "usd": 0.0, "unpriced_calls": len(provider)}


def install(monkeypatch, provider: FakeProvider) -> FakeProvider:
    """Route the engine's provider calls to ``provider`` (on a thread, so it may block on ``hold``)."""

    async def send(connection, messages, params, retries):
        return await asyncio.to_thread(provider, connection, messages, params, retries)

    monkeypatch.setattr(calls, "complete_with_retries", send)
    return provider


def engine(limiter: RoleLimiter | None = None, **kw: Any) -> CallEngine:
    """One role, ``strong``, on the fake provider, with no retries."""
    return CallEngine(
        {"strong": dict(CONNECTION)}, {"strong": limiter or RoleLimiter(concurrency=16)}, {"strong": 0}, **kw
    )


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def in_threads(target, args_list: list[tuple], meanwhile=None) -> list:
    """Run ``target(*args)`` for each args in its own thread; results (or raised errors) in order.

    ``meanwhile()``, when given, runs while the threads do (to watch them and
    release a held provider).
    """
    results: list = [None] * len(args_list)

    def one(i: int, args: tuple) -> None:
        try:
            results[i] = target(*args)
        except BaseException as exc:  # the test inspects it
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    try:
        if meanwhile is not None:
            meanwhile()
    finally:
        for t in threads:
            t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads), "a request never returned"
    return results
