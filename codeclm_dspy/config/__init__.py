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

from pydantic import Field, ValidationError

from codeclm_dspy.config.base import _Strict
from codeclm_dspy.config.compile import SEED, CompileConfig
from codeclm_dspy.config.engine import BatchConfig, BudgetConfig, EngineConfig
from codeclm_dspy.config.method import (
    EVOL_OPERATIONS,
    BenchmarkConfig,
    EvolInstructConfig,
    PipelineConfig,
    SeedsConfig,
    SelfInstructConfig,
)
from codeclm_dspy.config.quality import QualityConfig
from codeclm_dspy.config.roles import ModelsConfig, RoleConfig
from codeclm_dspy.errors import ConfigError
from codeclm_dspy.files import load_yaml, text_problem

__all__ = [
    "EVOL_OPERATIONS",
    "BatchConfig",
    "BenchmarkConfig",
    "BudgetConfig",
    "CompileConfig",
    "Config",
    "EngineConfig",
    "EvolInstructConfig",
    "ModelsConfig",
    "PipelineConfig",
    "QualityConfig",
    "RoleConfig",
    "SeedsConfig",
    "SelfInstructConfig",
    "load_config",
    "parse_config",
    "redact",
]


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
    # what NumPy and Optuna take (MIPROv2's search, GEPA), checked here rather than mid-compile
    random_seed: int = Field(default=0, ge=0, le=SEED)

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
                for key in ("timeout", "num_retries", "concurrency", "rpm", "tpm", "batch"):
                    role.pop(key, None)
                for deployment in role.get("deployments") or ():
                    deployment.pop("rpm", None)  # a replica's limits pace a run, never change it
                    deployment.pop("tpm", None)
        return data


# "token" alone or as a suffix (hf_token, access_token), never max_tokens or tpm
_SECRET_KEY = re.compile(r"(api[_-]?key|(^|[_-])token$|secret|password|authorization)", re.I)


def redact(value: Any) -> Any:
    """Mask values whose key names look like credentials, recursively.

    A true/false is never a credential: ``quality.secrets`` is a switch, and
    masked it would no longer load as one.
    """
    if isinstance(value, dict):
        return {
            k: (
                "***"
                if _SECRET_KEY.search(str(k)) and k != "api_key_env" and not isinstance(v, bool)
                else redact(v)
            )
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
