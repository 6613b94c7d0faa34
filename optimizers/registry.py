"""The five DSPy optimizers a step can be compiled with, and how each is driven.

What a config may pass each one (``compile.steps.<step>.params``) is its
allow-list in ``codeclm_dspy/config/compile.py``: typed, bounded, and checked
when the config is read, so a typo or a value DSPy would choke on fails before
any call is paid for. The project's defaults are small on purpose (a compile
should fit a modest budget) and live there too. What the project owns is set
here, never from params: the step's metric, the strong model for proposals and
reflection, the thread count, the pass mark and the seed (the config's
``random_seed`` unless params give one). All of them run inside the compile's
``dspy.context``, so every call their proposals, bootstrapping and reflection
make goes through the run's engine: journaled, cached, budgeted.

- ``LabeledFewShot``: labelled training examples become demos (no LM calls).
- ``BootstrapFewShotWithRandomSearch``: traces that pass ``pass_mark`` become
  demos; several demo sets are scored and the best kept.
- ``COPRO``: the prompt model proposes instructions, scored on the train set.
- ``MIPROv2``: proposed instructions x bootstrapped demos, searched by Optuna.
- ``GEPA``: reflective evolution of the instruction from the metric's feedback.
"""

from __future__ import annotations

from typing import Any

import dspy
from pydantic import ValidationError

from codeclm_dspy.config.compile import optimizer_params
from codeclm_dspy.errors import ConfigError


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

    ``params`` are checked again (a config built in code, or an optimizer
    swapped after parsing, skips the parser) and completed with the defaults.

    Raises:
        ConfigError: ``params`` are not on the optimizer's allow-list, or the
            optimizer rejects them (its own message is kept).
    """
    try:
        kwargs = optimizer_params(name, params).model_dump(exclude_none=True)  # None: DSPy's default
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"compile: {name} params: {problems}") from None
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
