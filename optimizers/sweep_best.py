"""``codeclm sweep best``: the config of a chosen trial, as YAML that generate takes as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codeclm_dspy.errors import ConfigError
from codeclm_dspy.out_paths import check_file, replace_file

HEADER = "# codeclm sweep best:"
NOT_OURS = (
    "not written by codeclm sweep, whose studies maximize quality, minimize cost and keep each trial's config"
)


def pick(study, objective: str = "quality", number: int | None = None):
    """A trial of the Pareto front: the best on ``objective``, or trial ``number``.

    Ties on the chosen objective go to the better value of the other one.

    Raises:
        ConfigError: the study is not shaped as ``codeclm sweep`` writes it, has
            no complete trial yet, or ``number`` is not a complete trial.
    """
    import optuna

    _check_directions(study)
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


def _check_directions(study) -> None:
    """Refuse a study that another program wrote under our name before any trial is compared.

    Optuna reads any study, so ``--study`` can name one with one objective, or
    with the two the other way round; comparing its trials would fail on a
    missing value or, worse, pick the worst trial as the best.

    Raises:
        ConfigError: the study does not maximize quality and minimize cost.
    """
    from optuna.study import StudyDirection

    if list(study.directions) != [StudyDirection.MAXIMIZE, StudyDirection.MINIMIZE]:
        found = ", ".join(d.name.lower() for d in study.directions)
        raise ConfigError(f"study '{study.study_name}' has the objective directions [{found}]: {NOT_OURS}")


def _config_of(trial) -> dict[str, Any]:
    """The trial's config, once its values and user attributes have the types ``write_best`` uses.

    Raises:
        ConfigError: a value or attribute is missing or of another type.
    """
    where = f"trial {trial.number}"
    values = trial.values or []
    if len(values) != 2 or not all(isinstance(v, int | float) for v in values):
        raise ConfigError(f"{where} has the values {values}, not two numbers (quality, cost): {NOT_OURS}")
    config = trial.user_attrs.get("config")
    if not isinstance(config, dict):
        what = (
            "no 'config' user attribute" if config is None else f"a 'config' of type {type(config).__name__}"
        )
        raise ConfigError(f"{where} has {what} where a mapping belongs: {NOT_OURS}")
    compile_ = config.get("compile")
    if compile_ is not None and not isinstance(compile_, dict):
        raise ConfigError(
            f"{where}: its config's 'compile' is of type {type(compile_).__name__}, not a mapping"
        )
    if (compile_ or {}).get("steps") and not isinstance(trial.user_attrs.get("dir"), str):
        raise ConfigError(f"{where} compiled steps but has no 'dir' user attribute naming its directory")
    return config


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
    config = _config_of(trial)
    header = (
        f"{HEADER} trial {trial.number}, quality {trial.values[0]:.4f}, cost {trial.values[1]:.4f}\n"
        f"# knobs: {', '.join(f'{k}={v}' for k, v in trial.params.items())}\n"
    )
    if "***" in yaml.safe_dump(config):
        header += "# values shown as *** were masked as credentials: set them again before use\n"
    if (config.get("compile") or {}).get("steps"):
        header += f"# it compiled steps: generate with --program {trial.user_attrs['dir']}/program\n"
    replace_file(Path(out), header + yaml.safe_dump(config, sort_keys=False))
    return {
        "trial": trial.number,
        "values": list(trial.values),
        "params": trial.params,
        "dir": trial.user_attrs.get("dir"),
    }
