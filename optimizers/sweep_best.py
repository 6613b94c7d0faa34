"""``codeclm sweep best``: the config of a chosen trial, as YAML that generate takes as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codeclm_dspy.errors import ConfigError


def pick(study, objective: str = "quality", number: int | None = None):
    """A trial of the Pareto front: the best on ``objective``, or trial ``number``.

    Ties on the chosen objective go to the better value of the other one.

    Raises:
        ConfigError: no complete trial yet, or ``number`` is not a complete trial.
    """
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise ConfigError(f"study '{study.study_name}' has no complete trial yet")
    if number is not None:
        chosen = [t for t in complete if t.number == number]
        if not chosen:
            raise ConfigError(f"trial {number} is not a complete trial of study '{study.study_name}'")
        return chosen[0]
    front = study.best_trials
    if objective == "quality":
        return max(front, key=lambda t: (t.values[0], -t.values[1]))
    return min(front, key=lambda t: (t.values[1], -t.values[0]))


def write_best(trial, out: str | Path) -> dict[str, Any]:
    """Write the trial's config to ``out``; return what was chosen (for the summary)."""
    config = trial.user_attrs["config"]
    header = (
        f"# codeclm sweep best: trial {trial.number}, quality {trial.values[0]:.4f}, cost {trial.values[1]:.4f}\n"
        f"# knobs: {', '.join(f'{k}={v}' for k, v in trial.params.items())}\n"
    )
    if "***" in yaml.safe_dump(config):
        header += "# values shown as *** were masked as credentials: set them again before use\n"
    if config.get("compile", {}).get("steps"):
        header += f"# it compiled steps: generate with --program {trial.user_attrs['dir']}/program\n"
    Path(out).write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return {
        "trial": trial.number,
        "values": list(trial.values),
        "params": trial.params,
        "dir": trial.user_attrs["dir"],
    }
