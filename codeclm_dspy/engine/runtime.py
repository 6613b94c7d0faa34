"""The runtime a step runs in: its LMs, its meter, its parse retries.

Steps (dspy.Modules) hold only what an optimizer may rewrite: predictors with
their instructions and demos. Everything about *how* they run is passed in
as a ``Runtime`` at call time, so a saved program is plain JSON state that
never carries an LM, a key or a lock.

The calls are coroutines: a run's items await them on the engine's loop
(DSPy's ``acall``), and ``Runtime.run`` lets code that is not async (the
optimizers, the evaluators) run the same coroutine and wait for it.

Calling a predictor with structured output, retried when parsing fails.

Transport errors (429s, 5xx, timeouts) are retried with backoff
(``retries.py``). What it cannot fix is an answer that arrives but does not
parse, or arrives empty; that gets a fresh rollout here, up to
``engine.parse_retries`` times, and then a ``StepParseError`` carrying the raw
text so the item can be recorded as failed with its evidence.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from codeclm_dspy.engine.adapter import ADAPTER
from codeclm_dspy.engine.batch_wait import AwaitingBatch
from codeclm_dspy.engine.calls import step as calls_for
from codeclm_dspy.engine.event_loop import engine_loop
from codeclm_dspy.engine.lm import finish_reasons
from codeclm_dspy.engine.retries import as_stop
from codeclm_dspy.engine.routing import LMRoles
from codeclm_dspy.engine.usage import UsageMeter
from codeclm_dspy.errors import StepParseError

# DSPy keeps every LM call in a global history and every predictor call in a
# trace (up to 10,000 entries each, with full prompts and answers), for
# inspection and for optimizers. A run records its calls in its own journal,
# so in a run both are only memory that grows with its length; runs switch
# them off (compiling, which needs the trace, runs outside this context).
QUIET = {"disable_history": True, "trace": None}

# Why a provider stops writing before the answer is done: the token limit, or its content filter.
CUT_SHORT = ("length", "content_filter")


@dataclass(frozen=True)
class Answer:
    """A model's plain answer and why the provider stopped writing it."""

    text: str
    finish_reason: str | None = None

    @property
    def truncated(self) -> bool:
        """The provider stopped before the answer was done (``CUT_SHORT``)."""
        return self.finish_reason in CUT_SHORT

    def __str__(self) -> str:
        return self.text


def fresh_rollout(lm: dspy.BaseLM, attempt: int) -> dict:
    """Request settings that make attempt ``attempt`` a new sample.

    A rollout id makes a retry a new request rather than a replay of the
    journal or the cache; the seed changes the sample for providers that
    honour one (llama.cpp). Attempt 0 is the plain request.
    """
    if not attempt:
        return {}
    return {"rollout_id": attempt, **({"seed": attempt} if "seed" in lm.supported_params else {})}


async def call_structured(
    predictor: dspy.Predict,
    step: str,
    lm: dspy.LM,
    meter: UsageMeter,
    retries: int,
    first_rollout: int = 0,
    check=None,
    keep_trace: bool = False,
    **inputs,
) -> dspy.Prediction:
    """Run ``predictor`` on ``lm`` with the JSON adapter, retrying parse failures.

    A coroutine: DSPy's async path (``Predict.acall`` -> the adapter ->
    ``RoutedLM.aforward`` -> the engine) on the engine's loop.

    Args:
        check: optional ``prediction -> str | None``; a returned string says
            why a well-formed answer is still unusable (say, an empty list),
            and the attempt counts as a parse failure.
        keep_trace: leave DSPy's trace on (compiling: optimizers build demos
            and reflect on it); runs switch it off (see ``QUIET``).

    An answer the provider cut short (``CUT_SHORT``) is unusable too, even
    when DSPy's JSON repair makes it parse: a truncated instruction reads as
    a complete one to every later step.

    Raises:
        StepParseError: still unusable after ``retries`` fresh attempts.
    """
    last = "no attempt made"
    raw = None
    quiet = {"disable_history": True} if keep_trace else QUIET
    for attempt in range(first_rollout, first_rollout + retries + 1):
        try:
            with dspy.context(lm=lm, adapter=ADAPTER, **quiet), calls_for(step), finish_reasons() as finishes:
                prediction = await predictor.acall(**inputs, config=fresh_rollout(lm, attempt))
        except AdapterParseError as exc:
            meter.note_parse(step, ok=False)
            last, raw = "unparseable output", str(exc.lm_response)
            continue
        cut = next((f for f in finishes if f in CUT_SHORT), None)
        problem = f"output cut short (finish_reason: {cut})" if cut else None
        problem = problem or (check(prediction) if check else None)
        meter.note_parse(step, ok=problem is None)
        if problem is None:
            return prediction
        last, raw = problem, repr(dict(prediction))
    raise StepParseError(step, f"{last} after {retries + 1} attempts", raw=raw)


async def call_plain(lm: dspy.BaseLM, step: str, meter: UsageMeter, prompt: str, retries: int) -> Answer:
    """Send ``prompt`` as the only user message and return the answer (a coroutine).

    Used for the strong and target answers: the paper sends the instruction
    as it is, so no adapter or template wraps it. An empty answer is asked
    again with a fresh rollout up to ``retries`` times (it may be a glitch);
    if it stays empty, empty is the model's answer: the judge scores it as
    such, and the quality gates never keep it. The provider's
    ``finish_reason`` comes back with the text, so an answer cut at
    ``max_tokens`` is known to be cut.
    """
    answer = Answer("")
    for attempt in range(retries + 1):
        with dspy.context(**QUIET), calls_for(step):
            # aforward() rather than acall(): DSPy's processing keeps only the text
            response = await lm.aforward(prompt=prompt, **fresh_rollout(lm, attempt))
        choice = response.choices[0] if response.choices else None
        text = ((choice.message.content if choice else "") or "").strip()
        answer = Answer(text, getattr(choice, "finish_reason", None))
        meter.note_parse(step, ok=bool(text))
        if text:
            break
    return answer


def first_to_raise(errors: list[BaseException]) -> BaseException:
    """Of the errors of one item's two calls, the one that decides: a stop, a batch wait, then the first.

    A stop (a budget, a dead provider) must not hide behind the other
    call's own failure, or the run would go on starting items.
    """
    return next(
        (e for e in errors if as_stop(e) is not None),
        next((e for e in errors if isinstance(e, AwaitingBatch)), errors[0]),
    )


class AsyncStep(dspy.Module):
    """A step whose work is a coroutine, ``aforward(rt, ...)``; a run awaits ``step.acall(rt, ...)``.

    ``forward`` (what ``step(rt, ...)`` calls) runs the same coroutine on the
    engine's loop and waits, so the optimizers and evaluators, which are not
    async, call the very code a run awaits.
    """

    def forward(self, rt: Runtime, *args, **kwargs):
        return rt.run(self.aforward(rt, *args, **kwargs))


@dataclass
class Runtime:
    """How steps run: the role LMs, usage accounting and parse retries.

    Attributes:
        side_workers: threads for ``both`` (two independent calls of one
            item, for code that is not async: the evaluators); a run's
            items use ``aboth`` on the loop instead.
        keep_trace: keep DSPy's trace on for every structured call (compiling).
    """

    lms: LMRoles
    parse_retries: int = 2
    side_workers: int = 4
    keep_trace: bool = False
    meter: UsageMeter = field(init=False)

    def __post_init__(self):
        self.meter = self.lms.engine.meter if self.lms.engine else UsageMeter()
        self._side = ThreadPoolExecutor(max_workers=self.side_workers, thread_name_prefix="codeclm-side")

    async def aboth(self, first: Awaitable, second: Awaitable) -> tuple[Any, Any]:
        """Await two independent calls of one item at once; return both results.

        Halves the wait of Contrastive Filtering (the strong and the target
        answer; the two judge orders). Answers are keyed by request, so the
        order in which they arrive never changes a result. Both always
        finish before an error travels on: a stopping run must not leave a
        paid call behind, unjournaled.
        """
        results = await asyncio.gather(first, second, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise first_to_raise(errors)
        return results[0], results[1]

    def both(self, first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
        """``aboth`` for code that is not async (the evaluators): two threads."""
        other = self._side.submit(contextvars.copy_context().run, second)
        try:
            result = first()
        except BaseException as exc:
            futures_wait([other])  # the other call lands (and is journaled) first
            errors = [exc] if other.exception() is None else [exc, other.exception()]
            raise first_to_raise(errors) from None
        return result, other.result()

    def __deepcopy__(self, memo) -> Runtime:
        # Optimizers deep-copy the modules they compile; a copy of a step must
        # still run on the same LMs, engine and threads, never on clones.
        return self

    def close(self) -> None:
        """Stop the side threads and close the engine (its cache commits what it queued)."""
        self._side.shutdown(wait=False, cancel_futures=True)
        if self.lms.engine is not None:
            self.lms.engine.close()

    async def astructured(self, predictor, step: str, role: str, rollout: int = 0, check=None, **inputs):
        """Call a predictor on a role's LM; see ``call_structured``."""
        lm = getattr(self.lms, role)
        return await call_structured(
            predictor,
            step,
            lm,
            self.meter,
            self.parse_retries,
            first_rollout=rollout,
            check=check,
            keep_trace=self.keep_trace,
            **inputs,
        )

    async def aplain(self, role: str, step: str, prompt: str) -> Answer:
        """Send a bare prompt to a role's LM; see ``call_plain``."""
        return await call_plain(getattr(self.lms, role), step, self.meter, prompt, self.parse_retries)

    def run(self, coro: Coroutine) -> Any:
        """Run a step's coroutine on the engine's loop from code that is not async; wait for it.

        The caller's context goes with it (DSPy's settings and trace, the
        step being charged), so an optimizer's thread sees its own trace.
        """
        return engine_loop().run(coro)

    def structured(self, predictor, step: str, role: str, rollout: int = 0, check=None, **inputs):
        """``astructured`` for code that is not async (the optimizers, the evaluators)."""
        return self.run(self.astructured(predictor, step, role, rollout=rollout, check=check, **inputs))

    def plain(self, role: str, step: str, prompt: str) -> Answer:
        """``aplain`` for code that is not async."""
        return self.run(self.aplain(role, step, prompt))
