"""The ``models:`` section: the strong, target and judge roles, each a LiteLLM model string."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from codeclm_dspy.config.base import _Strict

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RoleConfig(_Strict):
    """How to reach one model role and how to sample from it.

    Attributes:
        model: a LiteLLM model string, e.g. ``openai/gpt-4o-mini``,
            ``gemini/gemini-2.0-flash`` or ``embedded/smollm2-135m-instruct``.
        api_base: endpoint for self-hosted or proxied servers.
        api_key_env: name of the environment variable holding the API key.
        temperature, max_tokens, top_p: sampling parameters for every call.
        timeout: seconds before a single request is abandoned.
        num_retries: retries (exponential backoff with jitter, LiteLLM's
            ``calculate_retry_after``) on rate limits, server errors, timeouts and dropped
            connections.
        concurrency: most requests of this role in flight at once.
        rpm, tpm: the provider's requests and tokens per minute for this
            role; requests wait rather than draw 429s. None: no limit.
        extra_params: further keyword arguments passed through to LiteLLM.
        structured_output: how JSON schemas reach the server. ``auto``: as
            LiteLLM's model table says the model supports; ``json_schema``:
            OpenAI-style ``response_format`` (OpenAI, vLLM, Ollama) for a model
            LiteLLM has no record of; ``json_object_schema``: the
            ``{"type": "json_object", "schema": ...}`` form that
            llama-cpp-python's server takes; ``off``: JSON mode, no schema.
    """

    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=1024, ge=1, le=1_000_000)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    timeout: float = Field(default=120.0, gt=0, le=86_400)
    num_retries: int = Field(default=4, ge=0, le=100)
    concurrency: int = Field(default=8, ge=1, le=1024)
    rpm: int | None = Field(default=None, ge=1, le=1_000_000)
    tpm: int | None = Field(default=None, ge=1, le=1_000_000_000)
    extra_params: dict[str, Any] = Field(default_factory=dict)
    structured_output: Literal["auto", "json_schema", "json_object_schema", "off"] = "auto"

    @field_validator("api_key_env")
    @classmethod
    def _is_a_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "api_key_env takes the NAME of an environment variable (e.g. OPENAI_API_KEY), "
                "never the key itself"
            )
        return value

    def sampling(self) -> dict[str, Any]:
        """The sampling parameters sent with every request of this role."""
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.top_p is not None:
            params["top_p"] = self.top_p
        return params


class ModelsConfig(_Strict):
    """The three LM roles. ``judge`` defaults to ``strong``, as in the paper.

    The judge samples at temperature 0 unless its own section sets one: a
    gap moves in steps of 0.5, so sampling noise in the scores would sit
    right at the threshold. Inheriting from ``strong`` inherits its model,
    not its (generation) temperature.
    """

    strong: RoleConfig
    target: RoleConfig
    judge: RoleConfig | None = None

    def roles(self) -> dict[str, RoleConfig]:
        """Every role with the judge default applied."""
        return {"strong": self.strong, "target": self.target, "judge": self.judge_role()}

    def judge_role(self) -> RoleConfig:
        """The judge: its own section, else the strong model's; temperature 0 unless set."""
        if self.judge is not None and "temperature" in self.judge.model_fields_set:
            return self.judge
        return (self.judge or self.strong).model_copy(update={"temperature": 0.0})

    def self_judged(self) -> bool:
        """Whether the judge is the strong or the target model (same model and endpoint)."""
        judge = self.judge_role()
        return any((judge.model, judge.api_base) == (r.model, r.api_base) for r in (self.strong, self.target))
