"""The ``compile:`` section of a config: which step is tuned, by what, on what data.

It is validated with the rest of the config, before any model is loaded, so a
misspelt optimizer or step, or a bad optimizer parameter, fails in the first
second rather than after an hour of encoding.

The optimizers are registered here, by name, with their allow-lists: each
``*Params`` model below is the constructor keywords of that DSPy optimizer a
config may set, with their types, bounds and the project's defaults.
``optimizers/registry.py`` ties each name to how it is built and run, from
these models. The lists live here, not in the registry, because the config
sits below the optimizers plug-in and must parse without importing DSPy.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from codeclm_dspy.config.engine import BudgetConfig
from codeclm_dspy.steps import COMPILABLE

STEPS = COMPILABLE  # the step table's compilable steps, in pipeline order

# Bounds no real compile is near: a slip (10**9, -3) fails here, not as a stalled
# run. What a compile may spend is capped by compile.budget, not by these.
DEMOS = 100  # demos in one prompt: more outgrow any context window
TRIES = 1000  # candidate programs, proposals a round, rounds, evaluations
SEED = 2**32 - 1  # NumPy's and Optuna's seeds stop here
AUTO = Literal["light", "medium", "heavy"]

# Why a DSPy parameter an optimizer takes is not on its allow-list.
_REASONS = {
    ("metric",): "the compiler supplies each step's metric",
    ("prompt_model", "task_model", "reflection_lm", "teacher_settings"): (
        "every model call goes through the config's roles (models.strong), journaled and budgeted"
    ),
    ("instruction_proposer", "code_proposer"): "a proposer is Python code, not a config value",
    ("num_threads",): "set compile.num_threads",
    ("metric_threshold",): "set pass_mark, beside params",
    ("max_errors",): "a failed example scores 0; the compile never gives up on errors",
    ("log_dir",): (
        "DSPy would write files there (and GEPA resume from them); logs go to PROGRAM_DIR/optimizer-logs"
    ),
    ("track_stats", "track_best_outputs"): (
        "the statistics stay on the Python object; the manifest keeps the scores"
    ),
    ("use_wandb", "wandb_api_key", "wandb_init_kwargs", "use_mlflow"): (
        "it would send the run to an outside service"
    ),
    ("gepa_kwargs",): "it passes options to the gepa library unchecked",
    ("failure_score", "perfect_score"): "the compile's metrics score 0 (failure) to 1 (perfect)",
    ("num_candidates", "num_trials"): (
        "it needs auto: null and num_trials, which only MIPROv2's compile() takes; set auto"
    ),
}
WHY = {name: why for names, why in _REASONS.items() for name in names}


class _Strict(BaseModel):
    # as the rest of the config: no bools for numbers, no NaN or infinity
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)


class _Params(_Strict):
    """One optimizer's allow-list. A field left None (or null) gets DSPy's default.

    ``REFUSED``: the optimizer's other DSPy parameters, each refused for the
    reason ``WHY`` gives; any other name is a typo.
    """

    REFUSED: ClassVar[tuple[str, ...]] = ()


class LabeledFewShotParams(_Params):
    """Labelled training examples become ``k`` demos (no LM calls)."""

    k: int = Field(default=4, ge=1, le=DEMOS)


class BootstrapFewShotWithRandomSearchParams(_Params):
    """Traces passing ``pass_mark`` become demos; ``num_candidate_programs`` demo sets are scored
    (beside three baselines: no demos, labelled only, unshuffled) and the best kept."""

    REFUSED = ("metric", "teacher_settings", "num_threads", "max_errors", "metric_threshold")
    max_bootstrapped_demos: int = Field(default=2, ge=1, le=DEMOS)  # each set samples 1..this
    max_labeled_demos: int = Field(default=2, ge=0, le=DEMOS)
    max_rounds: int | None = Field(default=None, ge=1, le=TRIES)
    num_candidate_programs: int = Field(default=4, ge=0, le=TRIES)
    stop_at_score: float | None = Field(default=None, ge=0, le=1)  # the metrics score 0-1


class COPROParams(_Params):
    """The prompt model proposes ``breadth`` instructions a round for ``depth`` rounds."""

    REFUSED = ("prompt_model", "metric", "track_stats")
    breadth: int = Field(default=3, ge=2, le=TRIES)  # DSPy refuses 1 or less
    depth: int = Field(default=2, ge=1, le=TRIES)
    init_temperature: float = Field(default=1.0, ge=0, le=2)  # as models.<role>.temperature


class MIPROv2Params(_Params):
    """Proposed instructions x bootstrapped demos, searched by Optuna, sized by ``auto``."""

    REFUSED = (
        *("metric", "prompt_model", "task_model", "teacher_settings", "num_candidates", "num_trials"),
        *("num_threads", "max_errors", "track_stats", "log_dir", "metric_threshold"),
    )
    max_bootstrapped_demos: int = Field(default=2, ge=0, le=DEMOS)
    max_labeled_demos: int = Field(default=2, ge=0, le=DEMOS)
    auto: AUTO = "light"
    seed: int | None = Field(default=None, ge=0, le=SEED)  # None: the config's random_seed
    init_temperature: float | None = Field(default=None, ge=0, le=2)
    verbose: bool = False


class GEPAParams(_Params):
    """Reflective evolution of the instruction from the metric's feedback.

    At most one budget: ``auto``, ``max_full_evals`` or ``max_metric_calls``
    (none: ``auto: light``).
    """

    REFUSED = (
        *("metric", "reflection_lm", "instruction_proposer", "code_proposer", "num_threads"),
        *("failure_score", "perfect_score", "log_dir", "track_stats", "track_best_outputs"),
        *("use_wandb", "wandb_api_key", "wandb_init_kwargs", "use_mlflow", "gepa_kwargs"),
    )
    auto: AUTO | None = None
    max_full_evals: int | None = Field(default=None, ge=1, le=TRIES)
    max_metric_calls: int | None = Field(default=None, ge=1, le=10_000_000)
    reflection_minibatch_size: int | None = Field(default=None, ge=1, le=TRIES)
    candidate_selection_strategy: Literal["pareto", "current_best"] | None = None
    skip_perfect_score: bool | None = None
    add_format_failure_as_feedback: bool | None = None
    component_selector: Literal["round_robin", "all"] | None = None
    use_merge: bool | None = None
    max_merge_invocations: int | None = Field(default=None, ge=0, le=TRIES)
    warn_on_score_mismatch: bool | None = None
    seed: int | None = Field(default=None, ge=0, le=SEED)  # None: the config's random_seed

    @model_validator(mode="after")
    def _one_budget(self) -> GEPAParams:
        if sum(v is not None for v in (self.auto, self.max_full_evals, self.max_metric_calls)) > 1:
            raise ValueError("give at most one of auto, max_full_evals, max_metric_calls")
        return self


OPTIMIZER_PARAMS: dict[str, type[_Params]] = {
    "MIPROv2": MIPROv2Params,
    "GEPA": GEPAParams,
    "BootstrapFewShotWithRandomSearch": BootstrapFewShotWithRandomSearchParams,
    "COPRO": COPROParams,
    "LabeledFewShot": LabeledFewShotParams,
}
OPTIMIZER_NAMES = tuple(OPTIMIZER_PARAMS)


def optimizer_params(optimizer: str, params: dict[str, Any]) -> _Params:
    """``params`` checked against ``optimizer``'s allow-list, with the project's defaults.

    Raises:
        ValidationError: located at each bad name (``breadth``), so the config
            error reads ``compile.steps.<step>.params.breadth: ...``.
    """
    model = OPTIMIZER_PARAMS[optimizer]
    outside = [
        InitErrorDetails(type=_not_allowed(optimizer, model, name), loc=(name,), input=value)
        for name, value in params.items()
        if name not in model.model_fields
    ]
    if outside:  # raised inside a validator, these keep their names under the step's params
        raise ValidationError.from_exception_data(model.__name__, outside)
    return model.model_validate(params)


def _not_allowed(optimizer: str, model: type[_Params], name: str) -> PydanticCustomError:
    if name in model.REFUSED:
        return PydanticCustomError("refused_param", "cannot be set here: {why}", {"why": WHY[name]})
    return PydanticCustomError(
        "unknown_param",
        "{optimizer} has no parameter {name}; it takes: {takes}",
        {"optimizer": optimizer, "name": name, "takes": ", ".join(sorted(model.model_fields))},
    )


class StepCompileConfig(_Strict):
    """How one step is compiled.

    Attributes:
        optimizer: the DSPy optimizer.
        params: keyword arguments for its constructor, from its allow-list
            above (``auto``, ``breadth``, ``num_candidate_programs``,
            ``max_metric_calls``, ...), kept as written. What the project
            controls (metric, models, threads, files) is refused with where to
            set it instead; see docs/compile.md.
        pass_mark: the metric score (0-1) at which a traced run counts as a
            good demonstration, for the optimizers that bootstrap demos.
    """

    optimizer: Literal[OPTIMIZER_NAMES]
    params: dict[str, Any] = Field(default_factory=dict)
    pass_mark: float = Field(default=0.6, gt=0, le=1)

    @field_validator("params")
    @classmethod
    def _allowed(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "optimizer" in info.data:  # else the optimizer's own error is reported
            optimizer_params(info.data["optimizer"], value)
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
