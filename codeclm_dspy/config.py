"""The run configuration: one YAML file, validated before anything runs.

Configuration says *what* to do. It never holds a secret: a role names the
environment variable that holds its key (``api_key_env``), and the key is read
only when the LM is built. Unknown keys are errors, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from codeclm_dspy.budget import BudgetConfig
from codeclm_dspy.compile_config import CompileConfig
from codeclm_dspy.errors import ConfigError
from codeclm_dspy.files import load_yaml, text_problem
from codeclm_dspy.quality import QualityConfig

SCORE_MIN, SCORE_MAX = 1, 10
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    # strict: YAML's `true` is not the number 1 and 1.0e30 is not a count;
    # floats still take ints. NaN and infinity are never a setting.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)


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


class PipelineConfig(_Strict):
    """The method's knobs; defaults are the paper's (CodecLM, §5.3 and A.3)."""

    # Upper bounds keep a typo (1.0e30) from running until killed.
    metadata_pool_size: int = Field(default=200, ge=1, le=100_000)
    max_skills_per_metadata: int = Field(default=3, ge=1, le=100)
    plausibility_check: bool = True
    num_instructions: int = Field(default=2000, ge=1, le=10_000_000)
    num_rubrics: int = Field(default=4, ge=1, le=100)
    max_iterations: int = Field(default=4, ge=1, le=100)
    threshold: float = 3.0
    # The paper's Table 3 ablation switches. Without Contrastive Filtering
    # every decoded instruction is kept with the strong model's answer, after
    # max_iterations - 1 Self-Rubrics improvements when self_rubrics is on
    # (there is no gap to stop the rounds early) and none when it is off.
    self_rubrics: bool = True
    contrastive_filtering: bool = True
    # num_instructions is the number of kept pairs (the paper compares methods
    # at equal data size). The first round decodes an equal share per
    # metadata; while pairs are missing, further rounds decode more,
    # round-robin over the pool with fresh rollouts, up to this many rounds.
    max_decode_rounds: int = Field(default=8, ge=1, le=1000)
    # ... and at most this many times num_instructions basic instructions go
    # through Self-Rubrics and filtering in all: the cost stays bounded when
    # the target already matches the strong model and little is kept.
    max_overdraw: float = Field(default=4.0, ge=1.0, le=100.0)
    # Mixes the plausibility check turns down are replaced by fresh mixes for
    # at most this many rounds; a pool still short after them is reported.
    max_pool_rounds: int = Field(default=3, ge=1, le=100)

    @field_validator("threshold")
    @classmethod
    def _on_the_scale(cls, value: float) -> float:
        widest = SCORE_MAX - SCORE_MIN
        if not 0 <= value < widest:
            raise ValueError(
                f"threshold must be in [0, {widest}) on the {SCORE_MIN}-{SCORE_MAX} judge scale "
                f"(a gap can never exceed {widest}, so no pair would ever be kept)"
            )
        return value


class SelfInstructConfig(_Strict):
    """The Self-Instruct baseline (Wang et al. 2022), bootstrapped from the seeds.

    Attributes:
        demos_per_prompt: example tasks shown per generation call (paper: 8).
        machine_demos: how many of them come from the generated pool once it
            has any (paper: 2; the rest are seeds).
        instructions_per_call: new instructions asked for per call.
        max_rouge_l: a new instruction whose ROUGE-L F1 with any instruction
            already in the pool reaches this is rejected (paper: 0.7).
        max_calls: generation calls before giving up on the quota (None:
            4 x the calls the quota needs).
    """

    demos_per_prompt: int = Field(default=8, ge=1, le=100)
    machine_demos: int = Field(default=2, ge=0, le=100)
    instructions_per_call: int = Field(default=8, ge=1, le=100)
    max_rouge_l: float = Field(default=0.7, gt=0, le=1)
    max_calls: int | None = Field(default=None, ge=1, le=10_000_000)


EVOL_OPERATIONS = (
    "add_constraints",
    "deepen",
    "concretize",
    "increase_reasoning",
    "complicate_input",
    "breadth",
)


class EvolInstructConfig(_Strict):
    """The Evol-Instruct baseline (WizardLM, Xu et al. 2023).

    Attributes:
        rounds: evolution epochs over the pool (paper: 4).
        operations: the evolutions drawn uniformly at random; the first five
            are in-depth, ``breadth`` writes a new, rarer instruction of the
            same domain (paper: all six).
        elimination_check: ask the strong model whether an evolved
            instruction adds nothing to its parent (WizardLM's first
            elimination rule); the rule-based checks always run.
    """

    rounds: int = Field(default=4, ge=1, le=100)
    operations: list[Literal[EVOL_OPERATIONS]] = Field(
        default_factory=lambda: list(EVOL_OPERATIONS), min_length=1
    )
    elimination_check: bool = True


class SeedsConfig(_Strict):
    """Which fields of the seed records to read."""

    instruction_field: str = "instruction"
    id_field: str = "id"


class BenchmarkConfig(_Strict):
    """Which fields of a benchmark's records ``codeclm eval`` reads.

    Attributes:
        instruction_field: the text of an item; a list of turns (MT-Bench)
            uses its first turn. An ``input`` field is appended as for seeds.
        id_field: the item's id (the line number when the field is absent).
    """

    instruction_field: str = Field(default="instruction", min_length=1)
    id_field: str = Field(default="id", min_length=1)


class EngineConfig(_Strict):
    """How the run executes; none of this changes what the method produces.

    Attributes:
        workers: items (seeds, metadata, instructions) worked on at once.
            Each item makes its calls one after another, so to keep a role
            with ``concurrency: N`` busy, use at least N workers.
        parse_retries: fresh attempts when an answer does not parse.
        cache: share answers across runs through the request cache.
        cache_dir: where the request cache lives (default: the
            ``CODECLM_CACHE_DIR`` environment variable, else
            ``~/.cache/codeclm-dspy``).
        budget: caps on calls, tokens and USD.
        max_in_flight: requests in flight across all roles at once (None: only
            the per-role ``concurrency`` limits). Set it when the roles share
            one server, whose capacity no single role's limit describes.
    """

    workers: int = Field(default=16, ge=1, le=1024)
    max_in_flight: int | None = Field(default=None, ge=1, le=10_000)
    parse_retries: int = Field(default=2, ge=0, le=100)
    cache: bool = True
    cache_dir: str | None = None
    budget: BudgetConfig = Field(default_factory=BudgetConfig)

    def cache_path(self) -> Path:
        """The request cache's SQLite file."""
        import os

        root = (
            self.cache_dir or os.environ.get("CODECLM_CACHE_DIR") or Path.home() / ".cache" / "codeclm-dspy"
        )
        return Path(root).expanduser() / "requests.sqlite"


class Config(_Strict):
    """Everything one ``codeclm generate`` run needs."""

    models: ModelsConfig
    method: Literal["codeclm", "self-instruct", "evol-instruct", "wizardlm-plus"] = "codeclm"
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    self_instruct: SelfInstructConfig = Field(default_factory=SelfInstructConfig)
    evol_instruct: EvolInstructConfig = Field(default_factory=EvolInstructConfig)
    seeds: SeedsConfig = Field(default_factory=SeedsConfig)
    benchmark: BenchmarkConfig = Field(default_factory=BenchmarkConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    compile: CompileConfig = Field(default_factory=CompileConfig)
    random_seed: int = 0

    def public_dict(self) -> dict[str, Any]:
        """The config as plain data, safe to write to a manifest.

        Keys never live in the config, but ``extra_params`` is free-form, so
        anything that looks like a credential there is masked as well.
        """
        return redact(self.model_dump(mode="json"))

    def result_dict(self) -> dict[str, Any]:
        """The part of the config that decides a run's output.

        A run directory may be resumed with other ``engine`` settings (more
        workers, a bigger budget) but not with other models or knobs.
        """
        data = self.public_dict()
        data.pop("engine")
        data.pop("compile")  # a compiled program's own hash stands for it
        data.pop("benchmark")  # read by eval commands, never by a generator
        # a baseline's section only matters to that baseline
        used = {
            "self-instruct": "self_instruct",
            "evol-instruct": "evol_instruct",
            "wizardlm-plus": "evol_instruct",
        }
        for section in ("self_instruct", "evol_instruct"):
            if used.get(self.method) != section:
                data.pop(section)
        for role in data["models"].values():
            if role:
                for key in ("timeout", "num_retries", "concurrency", "rpm", "tpm"):
                    role.pop(key, None)
        return data


# "token" alone or as a suffix (hf_token, access_token), never max_tokens or tpm
_SECRET_KEY = re.compile(r"(api[_-]?key|(^|[_-])token$|secret|password|authorization)", re.I)


def redact(value: Any) -> Any:
    """Mask values whose key names look like credentials, recursively."""
    if isinstance(value, dict):
        return {
            k: ("***" if _SECRET_KEY.search(str(k)) and k != "api_key_env" else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def load_config(path: str | Path, **overrides: Any) -> Config:
    """Read and validate a YAML config.

    Args:
        path: the YAML file.
        **overrides: top-level fields to replace after reading (the CLI's
            ``--random-seed`` uses this).

    Raises:
        ConfigError: the file is missing or unreadable, is not YAML (line
            and column named), or fails validation.
    """
    path = Path(path)
    data = load_yaml(path, "config file", ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping with at least a 'models:' section")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return parse_config(data, source=str(path))


def parse_config(data: dict[str, Any], source: str = "config") -> Config:
    """Validate an already-parsed config mapping (see ``load_config``)."""
    bad = _bad_text(data)
    if bad:
        raise ConfigError(f"invalid config {source}: {bad}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {_explain(err)}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid config {source}: {problems}") from None


def _bad_text(data: Any, where: str = "") -> str | None:
    """``key.path: problem`` for the first key or string that is not usable text, else None.

    A control character in a model name or an environment variable name is
    a paste accident, and a lone surrogate cannot even be written to the
    manifest; neither is a setting.
    """
    if isinstance(data, str):
        problem = text_problem(data)
        return f"{where or '(top level)'}: {problem}" if problem else None
    if isinstance(data, dict):
        items = list(data.items())
    elif isinstance(data, list):
        items = list(enumerate(data))
    else:
        return None
    for key, value in items:
        name = f"{where}.{key}" if where else str(key)
        if isinstance(key, str) and text_problem(key):
            return f"{where or '(top level)'}: a key {text_problem(key)}"
        bad = _bad_text(value, name)
        if bad:
            return bad
    return None


def _explain(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    return err["msg"].removeprefix("Value error, ")
