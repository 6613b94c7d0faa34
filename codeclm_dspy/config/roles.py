"""The ``models:`` section: the strong, target and judge roles, each a LiteLLM model string.

A role reaches one endpoint (``api_base``) or several (``deployments``:
replicas of one server, or one provider under several keys), which the
engine balances with LiteLLM's Router (``engine/deployments.py``).
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from codeclm_dspy.config.base import _Strict
from codeclm_dspy.config.role_values import api_key_env_name, passable_params


class DeploymentConfig(_Strict):
    """One endpoint of a role that several serve.

    The deployments of a role are taken to serve the same model, so their
    answers are interchangeable: one request key, one journal and cache
    entry, whichever answered. A deployment may name another model string
    (the same weights under another name, another provider's copy); that
    its answers are alike is then the user's promise, not checked.

    Attributes:
        model: the LiteLLM model string here; default the role's.
        api_base: this endpoint; None for the provider's own.
        api_key_env: the variable holding this endpoint's key; default the role's.
        rpm, tpm: this endpoint's requests and tokens per clock minute, as
            LiteLLM's Router counts them (it routes at most ``rpm - 1``
            requests a minute to a deployment by choice, hence ``rpm >= 2``).
    """

    model: str | None = Field(default=None, min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    rpm: int | None = Field(default=None, ge=1, le=1_000_000)
    tpm: int | None = Field(default=None, ge=1, le=1_000_000_000)

    _is_a_name = field_validator("api_key_env")(api_key_env_name)

    @field_validator("rpm")
    @classmethod
    def _routable(cls, value: int | None) -> int | None:
        if value == 1:
            raise ValueError(
                "LiteLLM's Router sends a deployment at most rpm - 1 requests a minute; give 2 or more"
            )
        return value


class RoleConfig(_Strict):
    """How to reach one model role and how to sample from it.

    Attributes:
        model: a LiteLLM model string, e.g. ``openai/gpt-4o-mini``,
            ``gemini/gemini-2.0-flash`` or ``embedded/smollm2-135m-instruct``.
        api_base: endpoint for self-hosted or proxied servers.
        api_key_env: name of the environment variable holding the API key
            (with ``deployments``: the key of those that name none).
        deployments: several endpoints serving this role, balanced by
            LiteLLM's Router, each with its own ``rpm``/``tpm``; then the
            role gives no ``api_base`` (each deployment does), and its own
            ``concurrency``, ``rpm`` and ``tpm`` cap all of them together.
        temperature, max_tokens, top_p: sampling parameters for every call.
        timeout: seconds before a single request is abandoned.
        num_retries: retries (exponential backoff with jitter, LiteLLM's
            ``calculate_retry_after``) on rate limits, server errors, timeouts and dropped
            connections.
        concurrency: most requests of this role in flight at once.
        rpm, tpm: the provider's requests and tokens per minute for this
            role; requests wait rather than draw 429s. None: no limit.
        extra_params: further keyword arguments passed through to LiteLLM
            (``seed``, ``stop``, ``frequency_penalty``, a provider's own
            options); none the engine sets itself (``role_values.ENGINE_OWNS``).
        structured_output: how JSON schemas reach the server. ``auto``: as
            LiteLLM's model table says the model supports; ``json_schema``:
            OpenAI-style ``response_format`` (OpenAI, vLLM, Ollama) for a model
            LiteLLM has no record of; ``json_object_schema``: the
            ``{"type": "json_object", "schema": ...}`` form that
            llama-cpp-python's server takes; ``off``: JSON mode, no schema.
        batch: send this role's calls through the provider's batch API
            (``engine/batch_rounds.py``: about half price, answered within the
            completion window). None: as the run says (``codeclm generate
            --batch`` / ``engine.batch.enabled``); False: always online (say, a
            local target); True: batched unless the run says online
            (``--online``). How a call travels never changes its answer, so
            a run may switch between sessions.
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
    deployments: list[DeploymentConfig] | None = None
    extra_params: dict[str, Any] = Field(default_factory=dict)
    structured_output: Literal["auto", "json_schema", "json_object_schema", "off"] = "auto"
    batch: bool | None = None

    _is_a_name = field_validator("api_key_env")(api_key_env_name)
    _not_the_engines = field_validator("extra_params")(passable_params)

    @model_validator(mode="after")
    def _batchable(self) -> RoleConfig:
        if self.batch and self.model.startswith("embedded/"):
            raise ValueError("batch: an embedded model runs in this process; it has no batch API")
        if self.batch and self.deployments:
            raise ValueError("batch: a role with several deployments cannot be batched; give one api_base")
        return self

    @model_validator(mode="after")
    def _one_way_to_each_endpoint(self) -> RoleConfig:
        if self.deployments is None:
            return self
        if not self.deployments:
            raise ValueError(
                "deployments is empty: list at least one endpoint, or remove it and give api_base"
            )
        if self.api_base is not None:
            raise ValueError("give api_base in each deployment, not beside deployments")
        seen: dict[tuple[str, str | None], int] = {}
        for i, entry in enumerate(self.endpoints()):
            if entry.model.startswith("embedded/"):
                raise ValueError(
                    f"deployments.{i}: an embedded model runs in this process; it has no endpoints"
                )
            where = ((entry.api_base or "").rstrip("/"), entry.api_key_env)
            if where in seen:
                raise ValueError(
                    f"deployments.{seen[where]} and deployments.{i} name the same api_base and api_key_env; "
                    "list each endpoint and key once"
                )
            seen[where] = i
        return self

    def endpoints(self) -> list[DeploymentConfig]:
        """The role's deployments with its defaults filled in (model, api_key_env); [] without."""
        return [
            entry.model_copy(
                update={
                    "model": entry.model or self.model,
                    "api_key_env": entry.api_key_env or self.api_key_env,
                }
            )
            for entry in self.deployments or ()
        ]

    def primary_api_base(self) -> str | None:
        """The endpoint that stands for this role's answers (request keys, self-judging).

        Its own ``api_base``, else its first deployment's: replicas answer
        alike, so which one answered must not change a request's key. The
        first rather than all of them, so that adding or removing a replica
        later keeps a run resumable and the request cache warm; a one-endpoint
        config of the first server shares that cache too.
        """
        return self.deployments[0].api_base if self.deployments else self.api_base

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

    @field_validator("judge")
    @classmethod
    def _judge_at_zero_unless_set(cls, judge: RoleConfig | None) -> RoleConfig | None:
        # Written into the section itself, not applied later: a manifest, a sweep's best
        # config and a resumed run's identity all dump the config, and a dump cannot tell
        # an unset temperature from RoleConfig's default (0.7) for generation.
        if judge is None or "temperature" in judge.model_fields_set:
            return judge
        return judge.model_copy(update={"temperature": 0.0})

    def roles(self) -> dict[str, RoleConfig]:
        """Every role with the judge default applied."""
        return {"strong": self.strong, "target": self.target, "judge": self.judge_role()}

    def judge_role(self) -> RoleConfig:
        """The judge: its own section, else the strong model's at temperature 0."""
        return self.judge or self.strong.model_copy(update={"temperature": 0.0})

    def self_judged_role(self) -> str | None:
        """ "strong" or "target" when the judge is that model (``same_model``); None when independent."""
        judge = same_model(self.judge_role())
        return next((name for name in ("strong", "target") if same_model(getattr(self, name)) == judge), None)

    def self_judged(self) -> bool:
        """Whether the judge is the strong or the target model."""
        return self.self_judged_role() is not None


_LOOPBACK = {"localhost", "::1", "0.0.0.0", "ip6-localhost"}


def same_model(role: RoleConfig) -> tuple[str, tuple[str, int] | None]:
    """What two roles share when they are one model: its name and the server that runs it.

    A judge must not grade its own answers, and spelling must not hide that:
    ``openai/gpt-4o`` and ``azure/gpt-4o`` are one model (the provider prefix
    and any organisation path are dropped, case ignored), and
    ``http://localhost:8000/v1/`` and ``http://127.0.0.1:8000`` are one server
    (loopback names, the default port and the path do not count). A hosted
    model (no ``api_base``) is its name alone.
    """
    name = role.model.rsplit("/", 1)[-1].lower()
    base = role.primary_api_base()
    if not base:
        return name, None
    url = urlsplit(base if "//" in base else f"//{base}")
    host = (url.hostname or "").lower()
    host = "loopback" if host in _LOOPBACK or host.startswith("127.") else host
    try:
        port = url.port or (443 if url.scheme.lower() == "https" else 80)
    except ValueError:  # validated config never gets here; a hand-built one may
        port = 0
    return name, (host, port)
