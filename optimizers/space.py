"""The search space of ``codeclm sweep``: which config knobs a trial samples, and how.

A space is a YAML file, validated before any trial runs:

    objectives:
      quality: mean_nn_similarity   # an evals metric of the kept data vs the held-out split
      cost: calls_per_kept          # or tokens_per_kept, usd_per_kept
    fixed:                          # set in every trial, not searched
      compile.steps: {}             # e.g. no compiling (the base config may name steps)
    params:                         # dotted paths into the run config
      pipeline.threshold: {low: 0.5, high: 3.0, step: 0.5}
      pipeline.max_iterations: {low: 1, high: 4}
      models.strong.temperature: {low: 0.2, high: 1.0}
      compile.steps.encode.optimizer: {choices: [none, BootstrapFewShotWithRandomSearch, COPRO]}

``low``/``high`` with integers give an int knob, with floats a float knob
(``step`` and ``log`` as Optuna takes them); ``choices`` a categorical one.
The value ``none`` on a ``compile.steps.<step>.optimizer`` path means "do not
compile that step".
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from codeclm_dspy.errors import ConfigError
from codeclm_dspy.files import load_yaml

QUALITY = ("mean_nn_similarity", "coverage", "precision", "distinct_2", "mean_pairwise_distance")
COST = ("calls_per_kept", "tokens_per_kept", "usd_per_kept")


class _Strict(BaseModel):
    # as the run config: `low: true` is not 1, and NaN or infinity is no bound
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Knob(_Strict):
    """One sampled config value: a range or a list of choices."""

    low: int | float | None = None  # ints stay ints: an int knob
    high: int | float | None = None
    step: int | float | None = Field(default=None, gt=0)
    log: bool = False
    choices: list[Any] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _range_or_choices(self) -> Knob:
        ranged = self.low is not None and self.high is not None
        if ranged == (self.choices is not None):
            raise ValueError("give either low and high, or choices")
        if ranged and self.low > self.high:
            raise ValueError(f"low {self.low} is above high {self.high}")
        if self.log and (self.step is not None or (ranged and self.low <= 0)):
            raise ValueError("a log-scaled knob needs low > 0 and no step")
        return self

    def sample(self, trial, name: str) -> Any:
        """Ask the Optuna trial for a value of this knob."""
        if self.choices is not None:
            return trial.suggest_categorical(name, self.choices)
        if all(isinstance(v, int) for v in (self.low, self.high)) and (
            self.step is None or self.step == int(self.step)
        ):
            return trial.suggest_int(
                name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        value = trial.suggest_float(name, self.low, self.high, step=self.step, log=self.log)
        return round(value, 10) if self.step else value  # 0.9, not 0.9000000000000001


class Objectives(_Strict):
    """Quality to maximise and cost to minimise: the two axes of the Pareto front."""

    quality: Literal[QUALITY] = "mean_nn_similarity"
    cost: Literal[COST] = "calls_per_kept"


class Pruning(_Strict):
    """Stop hopeless trials early (multi-objective studies have no Optuna pruner).

    With ``probe_instructions`` set, a trial first generates that many
    instructions and scores their quality; below the median probe quality
    of at least ``min_trials`` complete trials, it stops there (PRUNED, with
    the numbers) instead of paying for the full run.
    """

    probe_instructions: int | None = Field(default=None, ge=1, le=10_000_000)
    min_trials: int = Field(default=3, ge=1, le=10_000)


class SearchSpace(_Strict):
    """Objectives, the searched knobs, ``fixed`` values every trial takes, and pruning."""

    objectives: Objectives = Field(default_factory=Objectives)
    pruning: Pruning = Field(default_factory=Pruning)
    fixed: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Knob] = Field(min_length=1)


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate a search space YAML.

    Raises:
        ConfigError: missing or unreadable file, bad YAML (line and column
            named, read by ``codeclm_dspy.files``), or a malformed knob.
    """
    path = Path(path)
    data = load_yaml(path, "search space file", ConfigError)
    try:
        return SearchSpace.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid search space {path}: {problems}") from None


def apply(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A copy of the raw config ``base`` with each dotted path set to its value.

    ``none`` on ``compile.steps.<step>.optimizer`` removes that step instead.
    """
    data = copy.deepcopy(base)
    for path, value in values.items():
        keys = path.split(".")
        if keys[:2] == ["compile", "steps"] and keys[-1] == "optimizer" and value == "none":
            data.get("compile", {}).get("steps", {}).pop(keys[2], None)
            continue
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"search space path {path}: '{key}' is not a section of the config")
        node[keys[-1]] = copy.deepcopy(value)  # a trial must never change the space's own values
    return data
