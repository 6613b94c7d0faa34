"""Two ``codeclm sweep`` workers on one PostgreSQL study: every trial runs once, in one worker.

Starts PostgreSQL on 127.0.0.1 (tests/postgres.py) and the stub OpenAI
server; each worker is its own process, as on separate machines.
"""

import json
import re
import subprocess
import sys

import optuna
import pytest
import yaml

from benchmarks.stub_server import StubServer
from optimizers.sweep_storage import open_study
from tests import postgres
from tests.engine_helpers import env, stub_config, write_inputs

pytestmark = [pytest.mark.postgres, pytest.mark.evals]


@pytest.mark.skipif(not postgres.available(), reason="PostgreSQL server binaries are not installed")
def test_two_workers_share_one_study_and_never_run_a_trial_twice(tmp_path):
    config = stub_config("http://unused")  # the URL is set below, once the stub listens
    config["pipeline"] = {
        "metadata_pool_size": 2,
        "num_instructions": 4,
        "max_iterations": 2,
        "threshold": 3.0,
    }
    space = {
        "params": {
            "pipeline.threshold": {"low": 1.0, "high": 3.0, "step": 0.5},
            "pipeline.max_iterations": {"low": 1, "high": 2},
        }
    }
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(space))
    (tmp_path / "heldout.jsonl").write_text(
        "".join(
            json.dumps({"id": f"h{k}", "instruction": f"Held-out request number {k}"}) + "\n"
            for k in range(4)
        )
    )
    with StubServer(delay_ms=1) as stub, postgres.server() as url:
        for role in config["models"].values():
            role["api_base"] = stub.url
        config_path, seeds = write_inputs(tmp_path, config)
        command = [
            sys.executable,
            "-m",
            "codeclm_dspy",
            "sweep",
            "--config",
            str(config_path),
            "--space",
            str(tmp_path / "space.yaml"),
            "--seeds",
            str(seeds),
            "--heldout",
            str(tmp_path / "heldout.jsonl"),
            "--trials",
            "6",
            "--storage",
            url,
            "--out",
            str(tmp_path / "sweep"),
        ]
        workers = [
            subprocess.Popen(
                command, env=env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        outputs = [w.communicate(timeout=900) for w in workers]
        for w, (out, err) in zip(workers, outputs, strict=True):
            assert w.returncode == 0, f"exit {w.returncode}\nstdout: {out[-2000:]}\nstderr: {err[-4000:]}"
        study = open_study(url, "codeclm-sweep", create=False)
        trials = study.get_trials()

    finished = [
        t for t in trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    assert len(finished) >= 6 and len(finished) == len(trials)  # none failed, none left running
    # each worker printed the trials it ran: together, every trial exactly once
    ran = [[int(n) for n in re.findall(r"^trial (\d+):", out, re.M)] for out, _ in outputs]
    assert sorted(ran[0] + ran[1]) == sorted(t.number for t in finished)
    assert not set(ran[0]) & set(ran[1])
    dirs = [t.user_attrs["dir"] for t in finished]
    assert len(set(dirs)) == len(dirs)
    for d in dirs:  # one generate session per trial directory: no trial ran twice
        assert (
            json.loads(
                (tmp_path / "sweep" / "trials" / d.rsplit("/", 1)[-1] / "run" / "manifest.json").read_text()
            )["sessions"]
            == 1
        )
