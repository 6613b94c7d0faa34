"""``codeclm sweep best``: the config of a chosen trial, as YAML that generate takes as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codeclm_dspy.errors import ConfigError
from codeclm_dspy.out_paths import check_file, replace_file

HEADER = "# codeclm sweep best:"


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


def check_out(out: str | Path) -> Path:
    """``out`` can take the YAML: a file path (not a directory, not under a file) that is
    new or an earlier export of ours; a file of anything else is never replaced.

    Raises:
        RunDirError: it cannot.
    """
    return check_file(out, "--out", _not_ours)


def _not_ours(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
    except (OSError, UnicodeDecodeError):
        first = ""
    if first.startswith(HEADER):
        return None
    return "it exists and was not written by codeclm sweep best; choose a new file so nothing is overwritten"


def write_best(trial, out: str | Path) -> dict[str, Any]:
    """Write the trial's config to ``out`` (checked by ``check_out``, written atomically);
    return what was chosen (for the summary)."""
    check_out(out)
    config = trial.user_attrs["config"]
    header = (
        f"{HEADER} trial {trial.number}, quality {trial.values[0]:.4f}, cost {trial.values[1]:.4f}\n"
        f"# knobs: {', '.join(f'{k}={v}' for k, v in trial.params.items())}\n"
    )
    if "***" in yaml.safe_dump(config):
        header += "# values shown as *** were masked as credentials: set them again before use\n"
    if config.get("compile", {}).get("steps"):
        header += f"# it compiled steps: generate with --program {trial.user_attrs['dir']}/program\n"
    replace_file(Path(out), header + yaml.safe_dump(config, sort_keys=False))
    return {
        "trial": trial.number,
        "values": list(trial.values),
        "params": trial.params,
        "dir": trial.user_attrs["dir"],
    }
