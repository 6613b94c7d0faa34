"""``codeclm sweep best`` on Optuna studies codeclm did not write: the study's directions and each
trial's values and config are checked, with one line and exit 2, not an IndexError or KeyError."""

import optuna
import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app


def study_at(tmp_path, directions, objective, attrs=None):
    storage = f"sqlite:///{tmp_path / 'other.db'}"
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(storage=storage, study_name="codeclm-sweep", directions=directions)

    def run(trial):
        for key, value in (attrs or {}).items():
            trial.set_user_attr(key, value)
        return objective(trial)

    study.optimize(run, n_trials=2)
    return storage


CONFIG = {"models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}}}
TWO = ["maximize", "minimize"]


def pair(trial):
    return trial.suggest_float("x", 0, 1), 1.0


@pytest.mark.parametrize(
    ("directions", "objective", "attrs", "said"),
    [
        (["minimize"], lambda t: t.suggest_float("x", 0, 1), None, "objective directions [minimize]"),
        (["minimize", "maximize"], pair, {"config": CONFIG}, "objective directions [minimize, maximize]"),
        (TWO, pair, None, "has no 'config' user attribute"),
        (TWO, pair, {"config": "x"}, "has a 'config' of type str"),
        (TWO, pair, {"config": {**CONFIG, "compile": "x"}}, "its config's 'compile' is of type str"),
        (TWO, pair, {"config": {**CONFIG, "compile": {"steps": ["encode"]}}}, "has no 'dir' user attribute"),
    ],
)
def test_a_study_codeclm_did_not_write_is_refused_in_one_line(tmp_path, directions, objective, attrs, said):
    storage = study_at(tmp_path, directions, objective, attrs)
    out = tmp_path / "best.yaml"
    for chosen in ([], ["--trial", "0"]):  # the best of the front, or a trial by number
        args = ["sweep", "best", "--storage", storage, "--out", str(out), *chosen]
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 2, done.output
        assert said in done.output and "Traceback" not in done.output
        assert done.output.count("\n") == 1
        assert not out.exists()


def test_a_study_of_the_right_shape_still_exports(tmp_path):
    storage = study_at(tmp_path, TWO, pair, {"config": CONFIG, "dir": str(tmp_path / "trials" / "0")})
    out = tmp_path / "best.yaml"
    done = CliRunner().invoke(app, ["sweep", "best", "--storage", storage, "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_text().startswith("# codeclm sweep best: trial")
