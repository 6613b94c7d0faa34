"""``RoutedLM``: the ``dspy.BaseLM`` every step talks to.

DSPy's adapters format the prompt and parse the answer; this LM hands the
request to the run's ``CallEngine`` (journal, cache, budget, limits, LiteLLM
retries) instead of calling a provider itself. DSPy's own cache is off: it
keys on the model name only, not the endpoint (see ``request_cache.py``).

It implements DSPy 3.4's ``BaseLM.forward`` interface, which DSPy 3.5 plans
to replace with engines; the lock file pins DSPy 3.4. DSPy says so with a
DeprecationWarning when a ``RoutedLM`` is made: Python hides it from users
by default, and the test suite shows it (pyproject's filterwarnings), so the
migration is not forgotten.
"""

from __future__ import annotations

import contextvars
import copy
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dspy

from codeclm_dspy.engine.calls import CallEngine
from codeclm_dspy.engine.json_schema import bound_arrays


def response_format_for(fmt: Any, mode: str) -> dict[str, Any]:
    """The ``response_format`` to send, as plain data (so it can be hashed), a fresh copy.

    Args:
        fmt: what DSPy's JSONAdapter asked for: a pydantic model class (a
            schema) or a dict such as ``{"type": "json_object"}``.
        mode: the role's ``structured_output`` setting.
    """
    if not isinstance(fmt, type):
        return dict(fmt)
    return copy.deepcopy(_schema_format(fmt, mode))


@functools.lru_cache(maxsize=512)  # one entry per (signature, mode): building a schema is slow
def _schema_format(fmt: type, mode: str) -> dict[str, Any]:
    # Every list a CodecLM step asks for (skills, instructions, rubrics) is
    # useless empty, and a small model under a schema-enforcing server takes
    # [] as the easy way out. DSPy builds the schema from the signature but
    # drops list-level constraints (Field(min_length=1)), so they go in here.
    schema = bound_arrays(fmt.model_json_schema(), min_items=1)
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    if mode == "off":
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": fmt.__name__, "schema": schema, "strict": True}}


# The finish reasons of the answers LM calls return inside ``finish_reasons()``. DSPy's adapter
# hands a step only the text, and JSON repair closes an object cut at max_tokens, so a
# truncated instruction would otherwise read as complete (``runtime.call_structured``).
FINISH_REASONS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "codeclm_finish_reasons", default=None
)


@contextmanager
def finish_reasons() -> Iterator[list[str]]:
    """Collect the finish reason of every answer the LM calls in the block return."""
    seen: list[str] = []
    token = FINISH_REASONS.set(seen)
    try:
        yield seen
    finally:
        FINISH_REASONS.reset(token)


class RoutedLM(dspy.BaseLM):
    """One role's LM. Holds no key: the engine's connection table does.

    Args:
        role: "strong", "target" or "judge".
        model: the LiteLLM model string (for DSPy's history and display).
        engine: the run's ``CallEngine``.
        structured_output: the role's ``structured_output`` setting.
        schema_support: whether to ask DSPy's JSONAdapter for a schema.
        params: LiteLLM parameters the provider accepts (``seed``, ...).
        sampling: parameters sent with every request (temperature, ...).
    """

    def __init__(
        self,
        role: str,
        model: str,
        engine: CallEngine,
        *,
        structured_output: str,
        schema_support: bool,
        params: set[str],
        **sampling,
    ):
        super().__init__(model, model_type="chat", cache=False, num_retries=0, **sampling)
        self.role, self.engine, self.structured_output = role, engine, structured_output
        self._schema_support, self._params = schema_support, set(params)

    @property
    def supports_response_schema(self) -> bool:
        return self._schema_support

    @property
    def supported_params(self) -> set[str]:
        return self._params

    def _request(self, prompt, messages, kwargs) -> tuple[list[dict], dict, list]:
        """The messages, the parameters and one rollout per completion asked for.

        n completions (COPRO asks for several proposals at once) are n
        requests, each its own rollout: every provider serves them, each is
        journaled and cached.
        """
        params = {k: v for k, v in {**self.kwargs, **kwargs}.items() if v is not None}
        rollout = params.pop("rollout_id", None)
        if "response_format" in params:
            params["response_format"] = response_format_for(params["response_format"], self.structured_output)
        n = int(params.pop("n", 1) or 1)
        rollouts = [f"{rollout or 0}/{i}" if i else rollout for i in range(n)]
        return messages or [{"role": "user", "content": prompt}], params, rollouts

    def forward(self, prompt=None, messages=None, **kwargs):
        messages, params, rollouts = self._request(prompt, messages, kwargs)
        return self._response(
            [self.engine.complete(self.role, messages, params, rollout=r) for r in rollouts]
        )

    async def aforward(self, prompt=None, messages=None, **kwargs):
        """``forward`` for DSPy's async path (``acall``): the engine's coroutine, awaited."""
        messages, params, rollouts = self._request(prompt, messages, kwargs)
        return self._response(
            [await self.engine.acomplete(self.role, messages, params, rollout=r) for r in rollouts]
        )

    def _response(self, answers: list[dict[str, Any]]):
        import litellm

        if (seen := FINISH_REASONS.get()) is not None:
            seen.extend(a.get("finish_reason") or "stop" for a in answers)

        usage = {k: sum(a["usage"][k] for a in answers) for k in ("prompt_tokens", "completion_tokens")}
        return litellm.ModelResponse(
            model=self.model,
            choices=[
                {
                    "index": i,
                    "finish_reason": a.get("finish_reason") or "stop",
                    "message": {"role": "assistant", "content": a["content"]},
                }
                for i, a in enumerate(answers)
            ],
            usage={**usage, "total_tokens": sum(usage.values())},
        )

    def dump_state(self) -> dict[str, Any]:
        """Model and sampling only: never the engine, a connection or a key."""
        return {"model": self.model, "role": self.role, **self.kwargs}
