"""The demo scripts behind ``make sweep-demo``, ``make eval-demo`` and ``make compile-demo``.

On the embedded models each runs for many minutes; here each runs as it is,
small and against the stub server, so a change to the CLI or to the output
rules that breaks a script fails here rather than in a user's hands (the
sweep demo was broken that way from aa72586 to fbf6c12).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from benchmarks.stub_server import StubServer
from tests.engine_helpers import ROOT, manifest, stub_config

VICUNA = ROOT.parent / "shared" / "data" / "vicuna" / "vicuna.jsonl"
# the scripts read their benchmarks from ../shared/data, as on the machines the demos are made for
pytestmark = pytest.mark.skipif(not VICUNA.exists(), reason="../shared/data is not beside the repo")


def run_script(name: str, tmp: Path, **settings: str) -> Path:
    """``scripts/<name>`` with a small stub config (and ``settings`` as its variables); its OUT."""
    out = tmp / "demo"
    with StubServer() as server:
        config = stub_config(server.url)
        config["pipeline"]["num_instructions"] = 4
        embedded = yaml.safe_load((ROOT / "examples" / "configs" / "embedded.yaml").read_text())
        config["compile"] = embedded["compile"]  # the demo's own compile plan
        (tmp / "base.yaml").write_text(yaml.safe_dump(config))
        environ = {
            **os.environ,
            "OUT": str(out),
            "CONFIG": str(tmp / "base.yaml"),
            "STUB_API_KEY": "sk-stub-test",
            "CODECLM_CACHE_DIR": str(tmp / "cache"),
            "PYTHONPATH": str(ROOT),  # this checkout's code, whatever .venv was installed from
            **settings,
        }
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / name)], env=environ, capture_output=True, text=True, timeout=900
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Warning" not in done.stderr, done.stderr[-3000:]  # what a user reads is the run's own lines
    return out


def complete(run: Path) -> dict:
    state = manifest(run)
    assert state["status"] == "complete" and state["accounting"]["balanced"], run
    return state


def test_the_sweep_demo_runs_to_its_best_config_and_a_run_with_it(tmp_path):
    out = run_script("sweep_demo.sh", tmp_path, TRIALS="1", BENCHMARK=str(VICUNA))
    assert (out / "sweep" / "study.db").exists()
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert (
        best["models"]["strong"]["model"] == "openai/stub-strong"
    )  # the base config, with the trial's knobs
    seeds = (out / "split" / "seeds.jsonl").read_text().splitlines()
    assert complete(out / "best-run")["counts"]["seeds"]["total"] == len(seeds) > 0


def test_the_eval_demo_generates_every_method_then_compares_and_judges(tmp_path):
    out = run_script("eval_vicuna.sh", tmp_path, BENCHMARK=str(VICUNA), CRR_ITEMS="3")
    methods = ("codeclm", "self-rubrics", "metadata-only", "self-instruct", "evol-instruct", "wizardlm-plus")
    for method in methods:
        assert complete(out / method)["method"] == method
    compared = json.loads((out / "comparison" / "comparison.json").read_text())
    assert len(compared["rows"]) == len(methods)
    assert (out / "crr" / "verdicts.jsonl").read_text().count("\n") == 3


def test_the_compile_demo_compiles_then_generates_with_the_program(tmp_path):
    out = run_script("compile_demo.sh", tmp_path, SEEDS=str(ROOT / "examples" / "seeds.jsonl"))
    assert (out / "program" / "program.json").exists()
    run = complete(out / "generate")
    assert run["kept"] > 0 and Path(run["program"]["compiled_from"]) == out / "program"
    assert set(run["program"]["steps"]) == {"encode", "judge"}  # the steps the demo's plan compiles
