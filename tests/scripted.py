"""A scripted LiteLLM provider for deterministic tests.

Requests travel the real path (dspy.Predict -> JSONAdapter -> RoutedLM ->
CallEngine -> litellm.completion -> this custom provider), and the answer comes
from a Python function chosen by the step being asked: the output fields of
the requested JSON schema name it, and a request without a schema is a plain
answer (Contrastive Filtering's strong or target response). A handler returns
the answer (a string, or a dict sent as JSON), or ``(answer, finish_reason)``
to end it otherwise than "stop" (e.g. "length", an answer cut at max_tokens).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable

import litellm
from litellm import CustomLLM, ModelResponse
from litellm.utils import custom_llm_setup

import signatures
from codeclm_dspy.config import Config, parse_config
from codeclm_dspy.engine.routing import LMRoles, build_lms
from codeclm_dspy.steps import STEPS

# A schema's output fields name the step: CodecLM's from the step table, then
# the compile metrics' and CRR's own signatures.
STEP_BY_FIELDS = {
    frozenset(getattr(signatures, step.signature).output_fields): step.name
    for step in STEPS
    if step.signature
}
STEP_BY_FIELDS.update(
    {
        frozenset({"fits_use_case", "uses_skills"}): "adherence",
        frozenset({"harder", "same_use_case", "same_skills"}): "difficulty",
        frozenset({"score_1", "score_2", "explanation"}): "evaluate",
    }
)
OPTIMIZER_TEXT = "Read the request closely and answer with care."

_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", re.S)


def parse_inputs(text: str) -> dict[str, str]:
    """The input fields DSPy's adapter wrote into a user message."""
    return {name: value.strip() for name, value in _FIELD.findall(text)}


class Script(CustomLLM):
    """Answers by step; records every request it served."""

    def __init__(self):
        super().__init__()
        self.handlers: dict[str, Callable] = {}
        self.calls: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()

    def completion(self, model, messages, *args, optional_params=None, **kwargs):
        params = optional_params or {}
        role = model.rsplit("/", 1)[-1]
        fmt = params.get("response_format")
        if fmt is None:
            step, inputs = "respond", {"instruction": messages[-1]["content"]}
        else:
            schema = fmt["json_schema"]["schema"] if isinstance(fmt, dict) else fmt.model_json_schema()
            # an optimizer's own signatures (proposals, descriptions) are "optimizer"
            step = STEP_BY_FIELDS.get(frozenset(schema["properties"]), "optimizer")
            inputs = parse_inputs(messages[-1]["content"])
            inputs["_turns"] = len(messages)  # > 2: few-shot demos came first
        with self._lock:
            self.calls.append((role, step, inputs))
        if step == "optimizer" and step not in self.handlers:
            answer = dict.fromkeys(schema["properties"], OPTIMIZER_TEXT)
        else:
            answer = self.handlers[step](role, inputs, params)
        finish = "stop"
        if isinstance(answer, tuple):  # (answer, finish_reason): e.g. "length" for a cut answer
            answer, finish = answer
        content = answer if isinstance(answer, str) else json.dumps(answer)
        return ModelResponse(
            model=model,
            choices=[
                {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}
            ],
            usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        )

    def steps(self, step: str) -> list[tuple[str, dict]]:
        return [(role, inputs) for role, s, inputs in self.calls if s == step]


SCRIPT = Script()


def install() -> Script:
    """Register the provider (once) and reset the script."""
    if not any(p.get("provider") == "scripted" for p in litellm.custom_provider_map):
        litellm.custom_provider_map = [
            *litellm.custom_provider_map,
            {"provider": "scripted", "custom_handler": SCRIPT},
        ]
        custom_llm_setup()
        info = {
            "litellm_provider": "scripted",
            "mode": "chat",
            "supports_response_schema": True,
            "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0,
        }
        litellm.register_model({f"scripted/{r}": dict(info) for r in ("strong", "target", "judge")})
    SCRIPT.handlers = {}
    SCRIPT.calls = []
    return SCRIPT


def config(**sections) -> Config:
    """A config whose roles are the scripted provider; request cache off."""
    data = {
        "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
        "engine": {"workers": 2, "cache": False},
    }
    for name, value in sections.items():
        data[name] = {**data.get(name, {}), **value}
    return parse_config(data)


def lms() -> LMRoles:
    """Role LMs on the real call engine, answering from the script."""
    return build_lms(config(), check=False)
