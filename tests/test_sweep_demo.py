"""scripts/sweep_demo.sh (``make sweep-demo``) end to end, on the stub server.

The demo itself runs the embedded models for about 20 minutes; this runs the
same script with one trial against the stub server, so a change to the CLI or
to the output rules that breaks the script fails here, not in a user's hands.
"""

import json
import os
import subprocess

import yaml

from benchmarks.stub_server import StubServer
from tests.engine_helpers import ROOT, stub_config

VICUNA = ROOT.parent / "shared" / "data" / "vicuna" / "vicuna.jsonl"


def test_the_sweep_demo_script_runs_to_its_best_config_and_run(tmp_path):
    out = tmp_path / "demo"
    with StubServer() as server:
        config = stub_config(server.url)
        config["pipeline"]["num_instructions"] = 4
        (tmp_path / "base.yaml").write_text(yaml.safe_dump(config))
        environ = {
            **os.environ,
            "OUT": str(out),
            "TRIALS": "1",
            "CONFIG": str(tmp_path / "base.yaml"),
            "BENCHMARK": str(VICUNA),
            "STUB_API_KEY": "sk-stub-test",
            "CODECLM_CACHE_DIR": str(tmp_path / "cache"),
        }
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / "sweep_demo.sh")],
            env=environ,
            capture_output=True,
            text=True,
            timeout=900,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "split" / "seeds.jsonl").exists() and (out / "sweep" / "study.db").exists()
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["models"]["strong"]["api_base"] == server.url  # the base config, with the trial's knobs
    manifest = json.loads((out / "best-run" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["accounting"]["balanced"]
    seeds = (out / "split" / "seeds.jsonl").read_text().splitlines()
    assert manifest["counts"]["seeds"]["total"] == len(seeds) > 0  # generated from the split's seeds
