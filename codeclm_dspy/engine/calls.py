"""The one path every LM request takes.

    run journal -> request cache -> budget -> role limiter -> litellm.acompletion (+ retries)

``CallEngine.acomplete`` is a coroutine on the engine's event loop
(``event_loop.py``). It first looks the request up in the run's journal (an
answer this run already received: resume and replay), then in the shared
request cache, and only then claims a budget slot, waits for a role slot and
sends it through ``litellm.acompletion`` with retries (``retries.py``); a
connection failure that outlasts them stops the run instead of failing the
item, and so do read timeouts of one role in a row (``timeouts.py``),
answers it cannot read (``unreadable_answers.py``) and other failures
(a server that errs on every request: ``failed_calls.py``). Whatever arrives is
committed to the journal before it is used. Identical requests in flight at
the same time are sent once and share the answer, so a run's answers never
depend on timing. ``complete`` is the same for code that is not async: it
runs ``acomplete`` on the loop and waits.

The step that made a call is taken from a context variable that
``Runtime`` sets, so accounting is per step without threading it through.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext
from typing import Any, Protocol

from codeclm_dspy.engine.budget import Budget
from codeclm_dspy.engine.cache import RequestCache, request_key
from codeclm_dspy.engine.event_loop import engine_loop
from codeclm_dspy.engine.failed_calls import counts, failing
from codeclm_dspy.engine.limits import RoleLimiter
from codeclm_dspy.engine.retries import as_stop, complete_with_retries, unreachable
from codeclm_dspy.engine.send import plain, unreadable
from codeclm_dspy.engine.timeouts import hung, is_read_timeout
from codeclm_dspy.engine.unreadable_answers import garbled
from codeclm_dspy.engine.usage import UsageMeter, count_missing, unread_answer, usd_of
from codeclm_dspy.errors import ProviderError, RunStopped
from codeclm_dspy.secrets import scrub_model_text


class Journal(Protocol):
    """What the engine needs of a run's journal (``runs/run_state.py`` keeps one).

    The engine looks an answer up before sending a request and records every
    answer before it is used; where and how is the run's business.
    ``record_call`` may return a future that is done once the answer is
    durable; the engine waits for it before the answer is used.
    """

    def recorded_call(self, key: str) -> dict[str, Any] | None: ...
    def record_call(self, key: str, **details: Any) -> Future | None: ...
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
        senders: the sender processes some roles' connections use (closed
            with the engine); None when the run sends from its own process.
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
        senders=None,
    ):
        self._connections, self.limiters = connections, limiters
        self.num_retries = num_retries
        self.state, self.cache, self.budget = state, cache, budget
        self.meter = meter or UsageMeter()
        self.loop = engine_loop()
        self._inflight: dict[str, asyncio.Future] = {}  # touched on the loop only: no lock
        # per role, on the loop only: read timeouts, unreadable answers and other failed calls
        # since its last readable answer, and whether it gave one yet
        self._in_a_row = {kind: dict.fromkeys(connections, 0) for kind in ("timeout", "unreadable", "failed")}
        self._answered: set[str] = set()
        self._max_in_flight = max_in_flight
        self.senders = senders
        self._all_slots: asyncio.Semaphore | None = None
        # The first stop (budget, provider) seen. Code that catches every
        # exception per item (DSPy's Evaluate, the optimizers) would turn a
        # stop into a score of zero; the compiler looks here afterwards.
        self.stopped: RunStopped | None = None
        # batch mode (runs/batch_rounds.py sets it): a miss of a batched role waits (engine/batch_wait.py)
        self.batch = None

    def complete(
        self, role: str, messages: list[dict[str, Any]], params: dict[str, Any], rollout: int | None = None
    ) -> dict[str, Any]:
        """``acomplete`` for code that is not async: run it on the engine's loop and wait."""
        return self.loop.run(self.acomplete(role, messages, params, rollout, step=CURRENT_STEP.get()))

    async def acomplete(
        self,
        role: str,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        rollout: int | None = None,
        step: str | None = None,
    ) -> dict[str, Any]:
        """The answer to one request: ``{"content", "finish_reason", "usage"}``.

        Args:
            rollout: a retry's attempt number: part of the key (so the retry
                is a new request, not a replay) but never sent.
            step: the step to charge (default: the current ``step`` block).
        """
        return await self.loop.hop(
            self._complete(role, messages, params, rollout, step or CURRENT_STEP.get())
        )

    async def _complete(self, role, messages, params, rollout, name) -> dict[str, Any]:
        connection = self._connections[role]
        model = connection["model"]
        key = request_key(
            model, connection.get("api_base"), messages, {**params, "rollout": rollout} if rollout else params
        )
        recorded = self._replay(key)
        if recorded is not None:
            return recorded
        waiting = self._inflight.get(key)
        if waiting is not None:  # single flight: one request per key at a time
            return await self._follow(waiting)
        mine = self._inflight[key] = asyncio.get_running_loop().create_future()
        try:
            answer = await self._fetch(key, role, name, model, messages, params)
        except BaseException as exc:
            stop = as_stop(exc)
            if stop is not None:
                self.stopped = self.stopped or stop
            mine.set_exception(exc)
            mine.exception()  # retrieved: no "never retrieved" warning when nobody shared it
            raise
        else:
            mine.set_result(answer)
            return answer
        finally:
            self._inflight.pop(key, None)

    async def _follow(self, leader: asyncio.Future) -> dict[str, Any]:
        """Wait for an identical request in flight and share its answer (or its error)."""
        return await asyncio.shield(leader)  # a follower cancelled does not cancel the leader

    def close(self) -> None:
        """Close the request cache, the sender processes and the roles' Routers.

        The journal is not the engine's: the run closes it.
        """
        if self.cache is not None:
            self.cache.close()
        if self.senders is not None:
            self.loop.run(self.senders.close())
        for connection in self._connections.values():
            if connection.get("router") is not None:
                connection["router"].close()  # its callbacks sit in LiteLLM's process-wide lists

    def _replay(self, key: str) -> dict[str, Any] | None:
        """The answer this run already recorded for ``key``, if any."""
        recorded = self.state.recorded_call(key) if self.state else None
        if recorded is not None:
            self.meter.add("journal", recorded.get("usage"), 0.0)
        return recorded

    async def _fetch(self, key, role, name, model, messages, params) -> dict[str, Any]:
        cached = self.cache.get(key) if self.cache else None
        if cached is not None:
            # priced as if paid: a cold-cache run of the same method would pay it
            usage = cached.get("usage") or {}
            worth = usd_of(model, usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
            durable = self._journal(key, role, name, model, "cache", cached, worth, 0.0)
            if durable is not None:
                await asyncio.wrap_future(durable)
            self.meter.add("cache", cached.get("usage"), 0.0)
            return cached
        if self.batch is not None and role in self.batch.roles:
            self.batch.hold(key, role, name, model, messages, params)  # raises: the next batch answers it
        if self.budget:
            self.budget.reserve()
        started = time.monotonic()
        try:
            async with self._slots(), self.limiters[role].slot():
                raw = await complete_with_retries(
                    self._connections[role], messages, params, self.num_retries[role]
                )
        except BaseException as exc:
            if unreadable(exc):  # paid: booked under a key of its own (counted on resume, never replayed)
                paid, usd = unread_answer(model, messages)
                unread_key = f"{key}:unreadable:{uuid.uuid4().hex}"
                self.book(unread_key, role, name, model, paid, usd, time.monotonic() - started)
                self._in_a_row["unreadable"][role] += 1
                streak = self._in_a_row["unreadable"][role]
                stop = garbled(role, self._connections[role], streak, role in self._answered, exc)
                raise stop or ProviderError(
                    f"{model} answered, but LiteLLM could not read the answer (paid)"
                ) from exc
            if self.budget:
                self.budget.release()
            # a dead, hung or failing server is no item's fault: stop the run with one line naming it
            connection, retries = self._connections[role], self.num_retries[role]
            answered = role in self._answered
            stop = unreachable(role, connection, exc, retries)
            if stop is None and is_read_timeout(exc):
                self._in_a_row["timeout"][role] += 1
                stop = hung(role, connection, self._in_a_row["timeout"][role], answered, retries)
            elif stop is None and counts(exc):  # a 500 every time, an HTML page: failed_calls.py
                self._in_a_row["failed"][role] += 1
                stop = failing(role, connection, self._in_a_row["failed"][role], answered, exc, retries)
            if stop is not None:
                raise stop from exc
            raise
        for streaks in self._in_a_row.values():  # a readable answer
            streaks[role] = 0
        self._answered.add(role)
        answer = plain(raw)
        count_missing(model, messages, answer)
        usage = answer["usage"]
        self.limiters[role].used(usage["prompt_tokens"] + usage["completion_tokens"])
        usd = usd_of(model, usage["prompt_tokens"], usage["completion_tokens"])
        durable = self.book(key, role, name, model, answer, usd, time.monotonic() - started)
        if durable is not None:
            await asyncio.wrap_future(durable)
        return answer

    def book(self, key, role, name, model, answer, usd, seconds) -> Future | None:
        """Account for an answer the provider was paid for: budget, journal, cache, meter.

        Online answers come through ``_fetch``; a batch's answers are booked
        by ``runs/batch_rounds.py`` at batch prices, the same way.

        Returns:
            The journal's future, done once the answer is durable (None when
            there is no journal or it writes at once); the answer must not be
            used before.
        """
        # what a resume reads from the journal; the pipeline and the judge must see the same
        answer["content"] = scrub_model_text(answer["content"])
        usage = answer["usage"]
        if self.budget:
            self.budget.charge(usage["prompt_tokens"] + usage["completion_tokens"], usd)
        durable = self._journal(key, role, name, model, "provider", answer, usd, seconds)
        if self.cache and answer["content"]:
            self.cache.put(key, answer)
        self.meter.add("provider", usage, usd)
        return durable

    def connection(self, role: str) -> dict[str, Any]:
        """A role's LiteLLM connection arguments (they hold its key: never log them)."""
        return self._connections[role]

    def _slots(self):
        """The cap on requests in flight across all roles (made on the loop, at first use)."""
        if self._max_in_flight is None:
            return nullcontext()
        if self._all_slots is None:
            self._all_slots = asyncio.BoundedSemaphore(self._max_in_flight)
        return self._all_slots

    def _journal(self, key, role, name, model, source, answer, usd, seconds) -> Future | None:
        """Record one answer in the run's journal; the future is done once it is durable."""
        if self.state is None:
            return None
        return self.state.record_call(
            key, role=role, step=name, model=model, source=source, response=answer, usd=usd, seconds=seconds
        )
