"""The five DSPy optimizers a step can be compiled with, and how each is driven.

Defaults are small on purpose (a compile should fit a modest budget); every
constructor argument can be overridden from ``compile.steps.<step>.params``.
All of them run inside the compile's ``dspy.context``, so every call their
proposals, bootstrapping and reflection make goes through the run's engine:
journaled, cached, budgeted.

- ``LabeledFewShot``: labelled training examples become demos (no LM calls).
- ``BootstrapFewShotWithRandomSearch``: traces that pass ``pass_mark`` become
  demos; several demo sets are scored and the best kept.
- ``COPRO``: the prompt model proposes instructions, scored on the train set.
- ``MIPROv2``: proposed instructions x bootstrapped demos, searched by Optuna.
- ``GEPA``: reflective evolution of the instruction from the metric's feedback.
"""

from __future__ import annotations

import inspect
from typing import Any

import dspy

from codeclm_dspy.errors import ConfigError

DEFAULTS: dict[str, dict[str, Any]] = {
    "LabeledFewShot": {"k": 4},
    "BootstrapFewShotWithRandomSearch": {
        "max_bootstrapped_demos": 2,
        "max_labeled_demos": 2,
        "num_candidate_programs": 4,
    },
    "COPRO": {"breadth": 3, "depth": 2, "init_temperature": 1.0},
    "MIPROv2": {"auto": "light", "max_bootstrapped_demos": 2, "max_labeled_demos": 2, "verbose": False},
    "GEPA": {},
}


def check_params(name: str, params: dict[str, Any]) -> None:
    """Refuse a parameter the optimizer's constructor does not name.

    COPRO's constructor swallows unknown keywords, so a typo (``bredth``)
    would silently compile with the default; every optimizer is checked alike.
    """
    accepted = {
        p.name
        for p in inspect.signature(getattr(dspy, name).__init__).parameters.values()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"
    }
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ConfigError(
            f"compile: {name} has no parameter {', '.join(unknown)} (it takes: {', '.join(sorted(accepted))})"
        )


def build(
    name: str,
    params: dict[str, Any],
    *,
    metric,
    pass_mark: float,
    prompt_lm: dspy.BaseLM,
    threads: int,
    seed: int,
) -> Any:
    """The optimizer ``name`` with the compile's metric, models and threads.

    Raises:
        ConfigError: the optimizer rejects ``params`` (its own message is kept).
    """
    check_params(name, params)
    kwargs = {**DEFAULTS[name], **params}
    try:
        if name == "LabeledFewShot":
            return dspy.LabeledFewShot(**kwargs)
        if name == "BootstrapFewShotWithRandomSearch":
            return dspy.BootstrapFewShotWithRandomSearch(
                metric=metric, metric_threshold=pass_mark, num_threads=threads, **kwargs
            )
        if name == "COPRO":
            return dspy.COPRO(metric=metric, prompt_model=prompt_lm, **kwargs)
        if name == "MIPROv2":
            kwargs.setdefault("seed", seed)
            return dspy.MIPROv2(
                metric=metric,
                prompt_model=prompt_lm,
                task_model=prompt_lm,
                num_threads=threads,
                metric_threshold=pass_mark,
                **kwargs,
            )
        if not {"auto", "max_full_evals", "max_metric_calls"} & set(kwargs):
            kwargs["auto"] = "light"  # GEPA needs exactly one budget setting
        kwargs.setdefault("seed", seed)
        # no log_dir: GEPA would resume from its pickled state, which keeps the
        # zero scores of a budget-stopped evaluation; the journal replays instead
        return dspy.GEPA(metric=metric, reflection_lm=prompt_lm, num_threads=threads, **kwargs)
    except (TypeError, ValueError, AssertionError) as exc:
        raise ConfigError(f"compile: {name} does not accept these params {sorted(params)}: {exc}") from None


def run(
    name: str, optimizer: Any, student: dspy.Module, trainset: list[dspy.Example], threads: int
) -> dspy.Module:
    """Compile ``student`` on ``trainset`` with the optimizer's own entry point."""
    if name == "COPRO":
        return optimizer.compile(student, trainset=trainset, eval_kwargs={"num_threads": threads})
    if name == "MIPROv2":
        # its minibatches default to 35 examples; a small train set is scored whole
        return optimizer.compile(student, trainset=trainset, minibatch=len(trainset) > 35)
    if name == "GEPA":
        return optimizer.compile(student, trainset=trainset, valset=trainset)
    return optimizer.compile(student, trainset=trainset)
