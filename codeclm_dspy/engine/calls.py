"""The one path every LM request takes.

    run journal -> request cache -> budget -> role limiter -> litellm.completion (+ retries)

``CallEngine.complete`` first looks the request up in the run's journal (an
answer this run already received: resume and replay), then in the shared
request cache, and only then claims a budget slot, waits for a role slot and
sends it through ``litellm.completion`` with retries (``retries.py``); a
connection failure that outlasts them becomes a ``ProviderUnreachable``,
which stops the run instead of failing the item. Whatever arrives is
recorded in the journal before it is used. Identical requests in flight at
the same time are sent once and share the answer, so a run's answers never
depend on thread timing.

The step that made a call is taken from a context variable that
``Runtime`` sets, so accounting is per step without threading it through.
"""

from __future__ import annotations

import contextvars
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext
from typing import Any, Protocol

from codeclm_dspy.engine.budget import Budget
from codeclm_dspy.engine.cache import RequestCache, request_key
from codeclm_dspy.engine.limits import RoleLimiter
from codeclm_dspy.engine.retries import as_stop, complete_with_retries, unreachable
from codeclm_dspy.engine.usage import UsageMeter, usd_of
from codeclm_dspy.errors import RunStopped


class Journal(Protocol):
    """What the engine needs of a run's journal (``runs/run_state.py`` keeps one).

    The engine looks an answer up before sending a request and records every
    answer before it is used; where and how is the run's business.
    """

    def recorded_call(self, key: str) -> dict[str, Any] | None: ...
    def record_call(self, key: str, **details: Any) -> None: ...
    def spent(self) -> dict[str, Any]: ...


CURRENT_STEP: contextvars.ContextVar[str] = contextvars.ContextVar("codeclm_step", default="unknown")


@contextmanager
def step(name: str):
    """Attribute the calls made inside the block to a pipeline step."""
    token = CURRENT_STEP.set(name)
    try:
        yield
    finally:
        CURRENT_STEP.reset(token)


class CallEngine:
    """Journal, cache, budget, limits and retries, for every role.

    Args:
        connections: role name -> LiteLLM connection arguments (model,
            api_base, api_key, timeout); the only place a key is held.
        limiters: role name -> ``RoleLimiter``.
        num_retries: role name -> retries of transient errors.
        state: the run's journal; None for in-memory runs.
        cache: the shared request cache; None when switched off.
        budget: caps; None for no cap.
        meter: per-step accounting.
        max_in_flight: requests in flight across all roles (None: no cap).
    """

    def __init__(
        self,
        connections: dict[str, dict],
        limiters: dict[str, RoleLimiter],
        num_retries: dict[str, int],
        state: Journal | None = None,
        cache: RequestCache | None = None,
        budget: Budget | None = None,
        meter: UsageMeter | None = None,
        max_in_flight: int | None = None,
    ):
        self._connections, self.limiters = connections, limiters
        self.num_retries = num_retries
        self.state, self.cache, self.budget = state, cache, budget
        self.meter = meter or UsageMeter()
        self._inflight: dict[str, Future] = {}
        self._all_slots = threading.BoundedSemaphore(max_in_flight) if max_in_flight else nullcontext()
        self._lock = threading.Lock()
        # The first stop (budget, provider) seen. Code that catches every
        # exception per item (DSPy's Evaluate, the optimizers) would turn a
        # stop into a score of zero; the compiler looks here afterwards.
        self.stopped: RunStopped | None = None

    def complete(
        self, role: str, messages: list[dict[str, Any]], params: dict[str, Any], rollout: int | None = None
    ) -> dict[str, Any]:
        """The answer to one request: ``{"content", "finish_reason", "usage"}``.

        Args:
            rollout: a retry's attempt number: part of the key (so the retry
                is a new request, not a replay) but never sent.
        """
        connection = self._connections[role]
        model = connection["model"]
        key = request_key(
            model, connection.get("api_base"), messages, {**params, "rollout": rollout} if rollout else params
        )
        name = CURRENT_STEP.get()
        recorded = self._replay(key)
        if recorded is not None:
            return recorded
        with self._lock:  # single flight: one request per key at a time
            waiting = self._inflight.get(key)
            if waiting is None:
                mine = self._inflight[key] = Future()
        if waiting is not None:
            return waiting.result()
        try:
            answer = self._fetch(key, role, name, model, messages, params)
        except BaseException as exc:
            stop = as_stop(exc)
            if stop is not None:
                with self._lock:
                    self.stopped = self.stopped or stop
            mine.set_exception(exc)
            raise
        else:
            mine.set_result(answer)
            return answer
        finally:
            with self._lock:
                self._inflight.pop(key, None)

    def _replay(self, key: str) -> dict[str, Any] | None:
        """The answer this run already recorded for ``key``, if any."""
        recorded = self.state.recorded_call(key) if self.state else None
        if recorded is not None:
            self.meter.add("journal", recorded.get("usage"), 0.0)
        return recorded

    def _fetch(self, key, role, name, model, messages, params) -> dict[str, Any]:
        recorded = self._replay(key)  # another thread may have finished it since the first look
        if recorded is not None:
            return recorded
        cached = self.cache.get(key) if self.cache else None
        if cached is not None:
            # priced as if paid: a cold-cache run of the same method would pay it
            usage = cached.get("usage") or {}
            worth = usd_of(model, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
            self._record(key, role, name, model, "cache", cached, worth, 0.0)
            self.meter.add("cache", cached.get("usage"), 0.0)
            return cached
        if self.budget:
            self.budget.reserve()
        started = time.monotonic()
        try:
            with self._all_slots, self.limiters[role].slot():
                raw = complete_with_retries(self._connections[role], messages, params, self.num_retries[role])
        except BaseException as exc:
            if self.budget:
                self.budget.release()
            # A dead or unreachable server is no item's fault: stop the run
            # with one line naming the endpoint rather than fail the item.
            stop = unreachable(role, self._connections[role], exc, self.num_retries[role])
            if stop is not None:
                raise stop from exc
            raise
        answer = _plain(raw)
        usage = answer["usage"]
        tokens = usage["prompt_tokens"] + usage["completion_tokens"]
        usd = usd_of(model, usage["prompt_tokens"], usage["completion_tokens"])
        self.limiters[role].used(tokens)
        if self.budget:
            self.budget.charge(tokens, usd)
        self._record(key, role, name, model, "provider", answer, usd, time.monotonic() - started)
        if self.cache and answer["content"]:
            self.cache.put(key, answer)
        self.meter.add("provider", usage, usd)
        return answer

    def _record(self, key, role, name, model, source, answer, usd, seconds) -> None:
        if self.state:
            self.state.record_call(
                key,
                role=role,
                step=name,
                model=model,
                source=source,
                response=answer,
                usd=usd,
                seconds=seconds,
            )


def _plain(raw) -> dict[str, Any]:
    """The parts of a LiteLLM ``ModelResponse`` a run keeps (no headers, no ids)."""
    choice = raw.choices[0]
    usage = getattr(raw, "usage", None)
    return {
        "content": choice.message.content or "",
        "finish_reason": choice.finish_reason,
        "usage": {
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
        },
    }
