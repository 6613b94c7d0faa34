"""``codeclm sweep`` on the scripted provider: trials, their directories, resume, best export."""

import json

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from codeclm_dspy.config import load_config
from optimizers.space import SearchSpace, apply
from optimizers.sweep import run_sweep
from optimizers.sweep_storage import open_study
from tests.compile_helpers import bag_of_words


class BagOfWords:
    def encode(self, texts):
        return bag_of_words(list(texts))


BASE = {
    "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
    "pipeline": {"metadata_pool_size": 2, "num_instructions": 4},
    "engine": {"workers": 2, "cache": False},
}
SPACE = {
    "objectives": {"quality": "mean_nn_similarity", "cost": "calls_per_kept"},
    "params": {
        "pipeline.threshold": {"low": 0.5, "high": 3.0, "step": 0.5},
        "pipeline.max_iterations": {"low": 1, "high": 3},
    },
}


@pytest.fixture
def files(script, tmp_path):
    # the strong answer always wins clearly, so every trial keeps pairs
    script.handlers["judge"] = lambda role, i, p: (
        {"score_1": 9, "score_2": 2} if i["answer_1"].startswith("STRONG") else {"score_1": 2, "score_2": 9}
    )
    (tmp_path / "seeds.jsonl").write_text(
        "".join(
            json.dumps({"id": f"s{k}", "instruction": f"Seed question {k} about food"}) + "\n"
            for k in range(3)
        )
    )
    (tmp_path / "heldout.jsonl").write_text(
        "".join(
            json.dumps({"id": f"h{k}", "instruction": f"Question {k} about question answering"}) + "\n"
            for k in range(3)
        )
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE))
    return tmp_path


def sweep(files, trials):
    return run_sweep(
        BASE,
        SearchSpace.model_validate(SPACE),
        files / "seeds.jsonl",
        files / "heldout.jsonl",
        files / "sweep",
        trials=trials,
        embedder=BagOfWords(),
    )


def test_trials_keep_their_directories_and_the_sweep_resumes(files):
    study = sweep(files, 3)
    trials = study.get_trials()
    assert len(trials) == 3 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    for t in trials:
        home = files / "sweep" / "trials" / f"{t.number:04d}"
        assert t.user_attrs["dir"] == str(home) and (home / "run" / "manifest.json").is_file()
        saved = yaml.safe_load((home / "config.yaml").read_text())
        assert saved["pipeline"]["threshold"] == t.params["pipeline.threshold"]
        assert saved["pipeline"]["max_iterations"] == t.params["pipeline.max_iterations"]
        quality, cost = t.values
        assert 0 <= quality <= 1 and cost == pytest.approx(t.user_attrs["metrics"]["calls_per_kept"])
    before = {
        t.number: (files / "sweep" / "trials" / f"{t.number:04d}" / "run" / "manifest.json").read_text()
        for t in trials
    }

    resumed = sweep(files, 4)  # the same command with a bigger target: one more trial, nothing redone
    assert [t.number for t in resumed.get_trials()] == [0, 1, 2, 3]
    assert all(
        (files / "sweep" / "trials" / f"{n:04d}" / "run" / "manifest.json").read_text() == text
        for n, text in before.items()
    )
    assert len(sweep(files, 4).get_trials()) == 4  # already there: no trial at all


@pytest.mark.evals
def test_plots_are_written_as_png_and_html(files):
    from optimizers.sweep_plots import write_plots

    study = sweep(files, 3)
    outcome = write_plots(study, files / "plots")
    assert outcome["pareto_front"] == "written" and outcome["history_quality"] == "written"
    for name, result in outcome.items():
        if result == "written":
            assert (files / "plots" / f"{name}.png").stat().st_size > 1000
            assert "plotly" in (files / "plots" / f"{name}.html").read_text()
        else:
            assert result.startswith("skipped: ")
    assert (files / "plots" / "plotly.min.js").is_file()  # offline: no CDN


def test_best_config_runs_with_generate_as_it_is(files):
    sweep(files, 3)
    done = CliRunner().invoke(
        app, ["sweep", "best", "--sweep-dir", str(files / "sweep"), "--out", str(files / "best.yaml")]
    )
    assert done.exit_code == 0, done.output
    study = open_study(f"sqlite:///{files / 'sweep' / 'study.db'}", "codeclm-sweep", create=False)
    best = max(study.best_trials, key=lambda t: (t.values[0], -t.values[1]))
    assert f"trial {best.number}" in done.output
    config = load_config(files / "best.yaml")
    assert config.pipeline.threshold == best.params["pipeline.threshold"]
    gen = CliRunner().invoke(
        app,
        [
            "generate",
            "--config",
            str(files / "best.yaml"),
            "--seeds",
            str(files / "seeds.jsonl"),
            "--out",
            str(files / "again"),
            "-q",
        ],
    )
    assert gen.exit_code == 0, gen.output


def test_an_unreachable_storage_is_one_line_without_its_password(files):
    done = CliRunner().invoke(
        app,
        [
            "sweep",
            "--config",
            str(files / "config.yaml"),
            "--space",
            str(files / "space.yaml"),
            "--seeds",
            str(files / "seeds.jsonl"),
            "--heldout",
            str(files / "heldout.jsonl"),
            "--storage",
            "postgresql+psycopg2://me:s3cret-pw@127.0.0.1:1/db",
            "--out",
            str(files / "sweep"),
        ],
    )
    assert done.exit_code == 2, done.output
    assert "cannot open the study storage" in done.output and "s3cret-pw" not in done.output
    assert "Traceback" not in done.output


def test_a_trial_that_keeps_nothing_is_pruned_with_its_reason(files, script):
    script.handlers["judge"] = lambda role, i, p: {"score_1": 5, "score_2": 5}  # no gap: nothing kept
    study = sweep(files, 2)
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in study.get_trials())
    assert all("kept no pair" in t.user_attrs["outcome"] for t in study.get_trials())


def test_none_removes_a_compile_step_and_paths_must_be_sections():
    base = {"compile": {"steps": {"encode": {"optimizer": "COPRO"}}}, "pipeline": {"threshold": 3}}
    assert apply(base, {"compile.steps.encode.optimizer": "none"})["compile"]["steps"] == {}
    assert apply(base, {"compile.steps.judge.optimizer": "COPRO"})["compile"]["steps"]["judge"] == {
        "optimizer": "COPRO"
    }
    assert base["compile"]["steps"] == {"encode": {"optimizer": "COPRO"}}  # the base is never changed
    with pytest.raises(Exception, match="not a section"):
        apply(base, {"pipeline.threshold.value": 1})


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"params": {}}, "params"),
        ({"params": {"pipeline.threshold": {"low": 3, "high": 1}}}, "above high"),
        ({"params": {"pipeline.threshold": {"low": 1}}}, "either low and high, or choices"),
        (
            {"objectives": {"quality": "vibes"}, "params": {"pipeline.threshold": {"choices": [1, 2]}}},
            "objectives.quality",
        ),
        ({"params": {"pipeline.thresold": {"low": 1, "high": 2}}}, "pipeline.thresold: unknown key"),
        ({"params": {"pipeline.threshold": {"low": 0.0, "high": 1.0, "log": True}}}, "log-scaled knob"),
        (
            {"params": {"pipeline.max_iterations": {"low": 1.0, "high": 2.5}}},
            "pipeline.max_iterations: Input should be a valid integer",
        ),
    ],
)
def test_bad_space_is_one_line_and_exit_2(files, space, message):
    (files / "space.yaml").write_text(yaml.safe_dump(space))
    done = CliRunner().invoke(
        app,
        [
            "sweep",
            "--config",
            str(files / "config.yaml"),
            "--space",
            str(files / "space.yaml"),
            "--seeds",
            str(files / "seeds.jsonl"),
            "--heldout",
            str(files / "heldout.jsonl"),
            "--out",
            str(files / "sweep"),
        ],
    )
    assert done.exit_code == 2, done.output
    assert message in done.output and "Traceback" not in done.output


def test_a_hopeless_probe_stops_the_trial_before_its_full_run(files, script):
    # a cold strong model writes instructions like the held-out ones, a hot one writes off-topic ones
    script.handlers["decode"] = lambda role, i, p: {
        "new_instructions": [
            (
                f"Question {n} about question answering"
                if p["temperature"] < 0.5
                else f"Unrelated chatter item {n}"
            )
            for n in range(int(i["count"]))
        ]
    }
    space = {
        "pruning": {"probe_instructions": 2, "min_trials": 2},
        "params": {"models.strong.temperature": {"choices": [0.1, 0.9]}},
    }
    (files / "sweep").mkdir()
    study = open_study(f"sqlite:///{(files / 'sweep').resolve() / 'study.db'}", "codeclm-sweep")
    for temperature in (0.1, 0.1, 0.9):
        study.enqueue_trial({"models.strong.temperature": temperature})
    run_sweep(
        BASE,
        SearchSpace.model_validate(space),
        files / "seeds.jsonl",
        files / "heldout.jsonl",
        files / "sweep",
        trials=3,
        embedder=BagOfWords(),
    )
    trials = study.get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2 + [
        optuna.trial.TrialState.PRUNED
    ]
    hopeless = trials[2]
    assert "below the median" in hopeless.user_attrs["outcome"]
    assert hopeless.user_attrs["probe_quality"] < trials[0].user_attrs["probe_quality"]
    home = files / "sweep" / "trials" / "0002"
    assert (home / "probe" / "manifest.json").is_file() and not (home / "run").exists()


def test_a_trial_can_compile_a_step_before_it_generates(files, monkeypatch):
    import optimizers.compile as compile_module

    monkeypatch.setattr(compile_module, "_embedder", lambda name: bag_of_words)
    (files / "seeds.jsonl").write_text(
        "".join(
            json.dumps(
                {"id": f"s{k}", "instruction": f"Seed question {k} about food", "reference": f"Answer {k}."}
            )
            + "\n"
            for k in range(4)
        )
    )
    space = {
        "fixed": {"compile.dev_fraction": 0.5},
        "params": {"compile.steps.judge.optimizer": {"choices": ["none", "LabeledFewShot", "COPRO"]}},
    }
    (files / "sweep").mkdir()
    study = open_study(f"sqlite:///{(files / 'sweep').resolve() / 'study.db'}", "codeclm-sweep")
    for choice in ("COPRO", "none", "LabeledFewShot"):
        study.enqueue_trial({"compile.steps.judge.optimizer": choice})
    run_sweep(
        BASE,
        SearchSpace.model_validate(space),
        files / "seeds.jsonl",
        files / "heldout.jsonl",
        files / "sweep",
        trials=3,
        embedder=BagOfWords(),
    )
    copro, plain, labeled = study.get_trials()
    assert copro.state == optuna.trial.TrialState.COMPLETE
    home = files / "sweep" / "trials" / "0000"
    assert (home / "program" / "program.json").is_file()
    assert json.loads((home / "run" / "manifest.json").read_text())["program"]["sha256"]
    assert (
        plain.state == optuna.trial.TrialState.COMPLETE
        and not (files / "sweep" / "trials" / "0001" / "program").exists()
    )
    # an impossible combination fails with its reason, and the sweep goes on
    assert (
        labeled.state == optuna.trial.TrialState.FAIL
        and "LabeledFewShot needs labelled" in labeled.user_attrs["outcome"]
    )


def test_a_provider_stop_is_resumed_in_the_same_trial_directory(files, script):
    from codeclm_dspy.errors import ProviderStopped

    base = {**BASE, "models": {r: {**m, "num_retries": 0} for r, m in BASE["models"].items()}}
    good = script.handlers["judge"]
    calls = {"n": 0}

    def flaky(role, inputs, params):
        calls["n"] += 1
        if 12 <= calls["n"] < 10_000:  # the provider goes down during the second trial
            raise RuntimeError("service unavailable")
        return good(role, inputs, params)

    script.handlers["judge"] = flaky
    space = SearchSpace.model_validate(SPACE)
    args = (files / "seeds.jsonl", files / "heldout.jsonl", files / "sweep")
    with pytest.raises(ProviderStopped):
        run_sweep(base, space, *args, trials=3, embedder=BagOfWords())
    calls["n"] = 10_000  # the provider is back
    study = run_sweep(base, space, *args, trials=3, embedder=BagOfWords())
    trials = study.get_trials()
    stopped = [t for t in trials if t.user_attrs.get("requeued")]
    assert len(stopped) == 1 and stopped[0].state == optuna.trial.TrialState.FAIL
    resumed = [t for t in trials if t.user_attrs.get("resumes") == stopped[0].number]
    assert len(resumed) == 1 and resumed[0].state == optuna.trial.TrialState.COMPLETE
    assert (
        resumed[0].params == stopped[0].params
        and resumed[0].user_attrs["dir"] == stopped[0].user_attrs["dir"]
    )
    manifest = json.loads(
        (files / "sweep" / "trials" / f"{stopped[0].number:04d}" / "run" / "manifest.json").read_text()
    )
    assert manifest["status"] == "complete" and manifest["sessions"] == 2  # resumed, not redone
    counted = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(counted) == 3


def test_a_full_disk_stops_the_sweep_and_its_trial_resumes(files, monkeypatch):
    """Before, a trial that could not write its files was pruned as "stopped by the trial's
    budget" and the sweep went on to the next trial, which met the same full disk."""
    import errno

    from codeclm_dspy.errors import OutputWriteFailed
    from codeclm_dspy.runs.run_state import RunState

    real_export, exports = RunState.export, {"kept": 0}

    def full_disk_at_the_second_trial(self, path, statuses):
        if path.name == "kept.jsonl":
            exports["kept"] += 1
            if exports["kept"] >= 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_export(self, path, statuses)

    with monkeypatch.context() as full:
        full.setattr(RunState, "export", full_disk_at_the_second_trial)
        with pytest.raises(OutputWriteFailed, match="No space left on device"):
            sweep(files, 3)
    study = open_study(f"sqlite:///{(files / 'sweep').resolve() / 'study.db'}", "codeclm-sweep")
    stopped = [t for t in study.get_trials() if t.user_attrs.get("requeued")]
    assert len(stopped) == 1 and "outcome" not in stopped[0].user_attrs  # not pruned, not a failed trial

    study = sweep(files, 3)  # room again
    trials = study.get_trials()
    resumed = [t for t in trials if t.user_attrs.get("resumes") == stopped[0].number]
    assert len(resumed) == 1 and resumed[0].state == optuna.trial.TrialState.COMPLETE
    assert len([t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]) == 3
