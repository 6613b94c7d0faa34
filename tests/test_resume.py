"""Exact resume: SIGKILL at random points, resume, same dataset; a finished
run run again makes no call; budgets stop cleanly and resume.

Every run here talks to the stub OpenAI-compatible server (its answers are a
function of the request), and the server's own request counter is the
witness for "no call was made".
"""

import random
import signal
import sqlite3
import subprocess
import time

import pytest

from benchmarks.stub_server import StubServer
from tests.engine_helpers import command, env, manifest, rows, run_cli, stub_config, write_inputs


@pytest.fixture(scope="module")
def server():
    with StubServer(delay_ms=40) as stub:
        yield stub


def recorded_calls(out) -> int:
    try:
        with sqlite3.connect(f"file:{out / 'state.sqlite'}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM calls WHERE source = 'provider'").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def reference(server, tmp_path):
    """An uninterrupted run of the same config."""
    config, seeds = write_inputs(tmp_path, stub_config(server.url))
    done = run_cli(config, seeds, tmp_path / "reference", tmp_path)
    assert done.returncode == 0, done.stderr
    return config, seeds, tmp_path / "reference"


def test_sigkill_at_random_points_then_resume_gives_the_same_dataset(server, tmp_path):
    config, seeds, ref = reference(server, tmp_path)
    total = manifest(ref)["usage"]["calls"]
    out = tmp_path / "killed"
    # Kill points are random positions in the run (answers on record), not
    # wall-clock times, so a slow machine still gets killed mid-run.
    targets = sorted(random.Random(2026).sample(range(5, total - 5), 4))
    journal = []
    for target in targets:
        proc = subprocess.Popen(command(config, seeds, out), env=env(tmp_path), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
        while proc.poll() is None and recorded_calls(out) < target:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        journal.append(recorded_calls(out))
    assert all(0 < n < total for n in journal), f"kills did not land mid-run: {journal} of {total}"
    final = run_cli(config, seeds, out, tmp_path)
    assert final.returncode == 0, final.stderr
    for name in ("kept.jsonl", "rejected.jsonl"):
        assert rows(out / name) == rows(ref / name), name
    done = manifest(out)
    assert done["status"] == "complete" and done["accounting"]["balanced"]
    assert done["counts"] == manifest(ref)["counts"]
    # Every answer was paid for once: the resumed run's journal holds as many
    # provider calls as the uninterrupted run made.
    assert done["usage"]["calls"] == manifest(ref)["usage"]["calls"]


def test_a_finished_run_run_again_makes_zero_calls(server, tmp_path):
    config, seeds, ref = reference(server, tmp_path)
    before = server.stats()["requests"]
    again = run_cli(config, seeds, ref, tmp_path)
    assert again.returncode == 0, again.stderr
    assert server.stats()["requests"] == before
    assert manifest(ref)["this_session"]["provider_calls"] == 0
    assert manifest(ref)["sessions"] == 2


def test_budget_stops_cleanly_and_resumes_to_the_same_dataset(server, tmp_path):
    config, seeds, ref = reference(server, tmp_path)
    capped = stub_config(server.url, budget={"max_calls": 40})
    config, seeds = write_inputs(tmp_path, capped)
    out = tmp_path / "capped"
    stopped = run_cli(config, seeds, out, tmp_path)
    assert stopped.returncode == 4, stopped.stderr
    assert "budget reached (max_calls=40)" in stopped.stderr and "Traceback" not in stopped.stderr
    state = manifest(out)
    assert state["status"] == "stopped" and state["usage"]["calls"] == 40
    assert "running" in state["items"] or state["items"].get("kept", 0) < manifest(ref)["kept"]

    before = server.stats()["requests"]
    config, seeds = write_inputs(tmp_path, stub_config(server.url, budget={"max_calls": 100000}))
    resumed = run_cli(config, seeds, out, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert rows(out / "kept.jsonl") == rows(ref / "kept.jsonl")
    assert rows(out / "rejected.jsonl") == rows(ref / "rejected.jsonl")
    assert server.stats()["requests"] - before == manifest(ref)["usage"]["calls"] - 40


def test_resuming_with_a_different_config_is_refused(server, tmp_path):
    config, seeds, ref = reference(server, tmp_path)
    changed = stub_config(server.url)
    changed["pipeline"]["threshold"] = 2.0
    config, seeds = write_inputs(tmp_path, changed)
    refused = run_cli(config, seeds, ref, tmp_path)
    assert refused.returncode == 2 and "different config" in refused.stderr
    assert manifest(ref)["status"] == "complete"  # the earlier run is untouched


def test_items_a_resumed_run_no_longer_reaches_leave_the_dataset(script, tmp_path):
    """A seed that failed in session 1 and encodes in session 2 shifts every
    metadata id; rows left from session 1 must not survive into the export."""
    import json

    import litellm

    import codeclm_dspy as cc
    from codeclm_dspy.methods import apply_preset
    from codeclm_dspy.records import Seed
    from tests import scripted

    failing = {"on": True}

    def encode(role, inputs, params):
        if failing["on"] and "two" in inputs["instruction"]:
            raise litellm.Timeout("slow", model="scripted/strong", llm_provider="scripted")
        return {"use_case": "qa " + inputs["instruction"][:20], "skills": ["cooking", "chemistry"]}

    script.handlers["encode"] = encode
    seeds = [
        Seed(f"s{k}", f"Seed number {w} asks about a topic") for k, w in enumerate(["one", "two", "three"])
    ]
    cfg = scripted.config(
        pipeline={"num_instructions": 3, "metadata_pool_size": 3, "plausibility_check": False},
        engine={"workers": 1, "parse_retries": 0},
    )
    cfg = apply_preset(cfg, "metadata-only")
    cfg.models.strong.num_retries = 0
    cc.generate(cfg, seeds, out=tmp_path / "run")
    failing["on"] = False
    cc.generate(cfg, seeds, out=tmp_path / "run")
    done = json.loads((tmp_path / "run" / "manifest.json").read_text())
    kept = [json.loads(line) for line in (tmp_path / "run" / "kept.jsonl").open()]
    rejected = [json.loads(line) for line in (tmp_path / "run" / "rejected.jsonl").open()]
    assert done["counts"]["seeds"]["failed"] == 0 and done["accounting"]["balanced"]
    assert len(kept) == done["counts"]["instructions"]["kept"] == 3
    assert not [r for r in rejected if r["kind"] == "seed"] and done["stale_items_dropped"] > 0
