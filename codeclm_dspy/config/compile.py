"""The ``compile:`` section of a config: which step is tuned, by what, on what data.

It is validated with the rest of the config, before any model is loaded, so a
misspelt optimizer or step fails in the first second rather than after an
hour of encoding.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codeclm_dspy.config.engine import BudgetConfig
from codeclm_dspy.steps import COMPILABLE

STEPS = COMPILABLE  # the step table's compilable steps, in pipeline order
OPTIMIZER_NAMES = ("MIPROv2", "GEPA", "BootstrapFewShotWithRandomSearch", "COPRO", "LabeledFewShot")


class _Strict(BaseModel):
    # as the rest of the config: no bools for numbers, no NaN or infinity
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)


class StepCompileConfig(_Strict):
    """How one step is compiled.

    Attributes:
        optimizer: the DSPy optimizer.
        params: keyword arguments for its constructor (``auto``, ``breadth``,
            ``num_candidate_programs``, ``max_metric_calls``, ...), passed as
            they are; a wrong name is reported with the optimizer's own words.
        pass_mark: the metric score (0-1) at which a traced run counts as a
            good demonstration, for the optimizers that bootstrap demos.
    """

    optimizer: Literal[OPTIMIZER_NAMES]
    params: dict[str, Any] = Field(default_factory=dict)
    pass_mark: float = Field(default=0.6, gt=0, le=1)

    @field_validator("params")
    @classmethod
    def _no_metric(cls, value: dict[str, Any]) -> dict[str, Any]:
        owned = {"metric", "prompt_model", "task_model", "reflection_lm", "teacher_settings"} & set(value)
        if owned:
            raise ValueError(
                f"{', '.join(sorted(owned))} cannot be set here: the compiler supplies the step's metric "
                "and routes every model through the config's roles"
            )
        return value


class CompileConfig(_Strict):
    """What ``codeclm compile`` does.

    Attributes:
        steps: step name -> how to compile it; steps not named keep their prompts.
        dev_fraction: share of the seeds held out for the before/after
            scores. The optimizer never sees them (it splits its own
            validation data out of the rest where it needs one).
        max_train, max_dev: caps on each side after the split (None: all).
        reference_field: the seed field holding a reference answer; the
            judge's examples pair it with a degraded copy of itself.
        decode_count: instructions asked for per decode example (the
            diversity half of the decode metric needs at least two).
        embedder: sentence embedder for round-trip similarity and diversity
            (all-MiniLM-L6-v2 from its wheel by default; or a model
            directory or LiteLLM embedding model).
        num_threads: examples evaluated at once (None: ``engine.workers``).
        budget: caps for the whole compile (across resumes); ``engine.budget``
            caps generate runs only.
        revert_if_worse: keep a step's original prompts when compiling
            lowered its dev score. Off by default: choosing on dev makes the
            reported "after" score optimistic (it is no longer held out).
    """

    steps: dict[Literal[STEPS], StepCompileConfig] = Field(default_factory=dict)
    dev_fraction: float = Field(default=0.5, gt=0, lt=1)
    max_train: int | None = Field(default=None, ge=1, le=10_000_000)
    max_dev: int | None = Field(default=None, ge=1, le=10_000_000)
    reference_field: str = "reference"
    decode_count: int = Field(default=3, ge=2, le=100)
    embedder: str = "all-MiniLM-L6-v2"  # evals.DEFAULT_EMBEDDER, from its wheel
    num_threads: int | None = Field(default=None, ge=1, le=1024)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    revert_if_worse: bool = False
