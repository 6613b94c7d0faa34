"""Exact resume: SIGKILL at random points, resume, same dataset; a finished
run run again makes no call; budgets stop cleanly and resume.

Every run here talks to the stub OpenAI-compatible server (its answers are a
function of the request), and the server's own request counter is the
witness for "no call was made".

The kill test kills one run at ``CODECLM_KILL_POINTS`` random points (20 by
default; seeded, so a failure repeats), each one a journal position, so a
slow machine still kills mid-run.
"""

import os
import random
import resource
import shutil
import signal
import subprocess
import time
from collections import Counter

import pytest

from benchmarks.stub_server import StubServer
from tests.engine_helpers import (
    ForkedCLI,
    command,
    env,
    manifest,
    recorded_calls,
    rows,
    run_cli,
    stub_config,
    write_inputs,
)

KILL_POINTS = int(os.environ.get("CODECLM_KILL_POINTS", "20"))


@pytest.fixture(scope="module")
def server():
    with StubServer(delay_ms=40) as stub:
        yield stub


@pytest.fixture(scope="module")
def reference(server, tmp_path_factory):
    """An uninterrupted run of the stub config, shared: tests that write to it take a copy."""
    tmp = tmp_path_factory.mktemp("reference")
    config, seeds = write_inputs(tmp, stub_config(server.url))
    done = run_cli(config, seeds, tmp / "reference", tmp)
    assert done.returncode == 0, done.stderr
    return config, seeds, tmp / "reference"


def copy_of(ref, tmp_path):
    shutil.copytree(ref, tmp_path / "copy")
    return tmp_path / "copy"


def test_sigkill_at_random_points_then_resume_gives_the_same_dataset(server, reference, tmp_path):
    config, seeds, ref = reference
    total = manifest(ref)["usage"]["calls"]
    assert total - 10 >= KILL_POINTS, f"CODECLM_KILL_POINTS={KILL_POINTS}: the run has only {total} calls"
    out = tmp_path / "killed"
    # Kill points are random positions in the run (answers on record), not
    # wall-clock times; each session is killed only after it has added at
    # least one answer of its own, so every kill lands mid-run.
    targets = sorted(random.Random(2026).sample(range(5, total - 5), KILL_POINTS))
    sessions, journal = ForkedCLI(), []
    for target in targets:
        goal = max(target, (journal[-1] if journal else 0) + 1)
        proc = sessions.start(config, seeds, out, tmp_path)
        while proc.is_alive() and recorded_calls(out) < goal:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        assert proc.exitcode == -signal.SIGKILL, f"session for kill point {target} ended by itself"
        journal.append(recorded_calls(out))
    assert all(0 < n < total for n in journal), f"kills did not land mid-run: {journal} of {total}"
    assert len(journal) == KILL_POINTS and journal == sorted(set(journal))  # each session added answers
    final = run_cli(config, seeds, out, tmp_path)
    assert final.returncode == 0, final.stderr
    for name in ("kept.jsonl", "rejected.jsonl"):
        got = rows(out / name)
        ids = Counter((row.get("kind"), row["id"]) for row in got)
        assert not [key for key, n in ids.items() if n > 1], f"{name}: duplicate rows"
        assert got == rows(ref / name), f"{name}: rows lost or changed"
    done = manifest(out)
    assert done["status"] == "complete" and done["accounting"]["balanced"]
    assert done["counts"] == manifest(ref)["counts"]
    assert done["sessions"] == KILL_POINTS + 1
    # Every answer was paid for once: the resumed run's journal holds as many
    # provider calls as the uninterrupted run made.
    assert done["usage"]["calls"] == manifest(ref)["usage"]["calls"]


def test_a_finished_run_run_again_makes_zero_calls(server, reference, tmp_path):
    config, seeds, ref = reference
    ref = copy_of(ref, tmp_path)
    before = server.stats()["requests"]
    again = run_cli(config, seeds, ref, tmp_path)
    assert again.returncode == 0, again.stderr
    assert server.stats()["requests"] == before
    assert manifest(ref)["this_session"]["provider_calls"] == 0
    assert manifest(ref)["sessions"] == 2


def test_budget_stops_cleanly_and_resumes_to_the_same_dataset(server, reference, tmp_path):
    config, seeds, ref = reference
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


def test_a_full_disk_stops_with_one_line_and_resumes_to_the_same_dataset(server, reference, tmp_path):
    """No file may grow past half the finished journal (RLIMIT_FSIZE: the write
    fails as on a full disk, and Python ignores SIGXFSZ): the run stops with
    one line saying what to do, keeps what it committed, and the same command
    with room again finishes the reference dataset."""
    config, seeds, ref = reference
    cap = (ref / "state.sqlite").stat().st_size // 2
    out = tmp_path / "full"

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

    argv, environ = command(config, seeds, out), env(tmp_path)
    full = subprocess.run(
        argv, env=environ, capture_output=True, text=True, timeout=600, preexec_fn=small_disk
    )
    assert full.returncode == 4, full.stderr
    lines = [line for line in full.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in full.stderr, full.stderr
    assert f"cannot write the run state {out / 'state.sqlite'}" in lines[0]
    assert "run the same command again to resume" in lines[0]
    journaled = recorded_calls(out)
    assert 0 < journaled < manifest(ref)["usage"]["calls"]

    resumed = run_cli(config, seeds, out, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert manifest(out)["status"] == "complete" and manifest(out)["accounting"]["balanced"]
    assert rows(out / "kept.jsonl") == rows(ref / "kept.jsonl")
    assert rows(out / "rejected.jsonl") == rows(ref / "rejected.jsonl")


@pytest.mark.parametrize("cap", [0, 10, 100, 4096])
def test_a_disk_full_from_the_first_byte_stops_with_one_line_and_the_same_command_runs(
    server, reference, tmp_path, cap
):
    """A full disk before anything was journaled: no temp directory at all (0 bytes) was a
    traceback from inside an import, and a run state whose very first pages could not be
    written (100, 4096 bytes) was exit 2, "cannot use ... as a run state", as if the file were
    foreign or damaged, and so was a directory whose marker could not be written (10 bytes).
    All are a stop: exit 4, one line, and no call was made."""
    config, seeds, ref = reference
    out = tmp_path / "out"

    def no_room():
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

    argv, environ = command(config, seeds, out), env(tmp_path)
    before = server.stats()["requests"]
    full = subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=600, preexec_fn=no_room)
    lines = [line for line in full.stderr.splitlines() if line.strip()]
    assert full.returncode == 4 and len(lines) == 1 and "Traceback" not in full.stderr, full.stderr
    assert lines[0].startswith("codeclm: error: ") and "run the same command again" in lines[0]
    if cap >= 100:
        assert f"cannot write {out / 'state.sqlite'}" in lines[0]
    elif cap:  # the run directory's marker
        assert f"cannot write to output directory {out} (File too large)" in lines[0], lines[0]
    else:
        assert "TMPDIR" in lines[0]
    assert server.stats()["requests"] == before

    resumed = run_cli(config, seeds, out, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert manifest(out)["status"] == "complete"
    assert rows(out / "kept.jsonl") == rows(ref / "kept.jsonl")


def test_a_finished_run_run_again_on_a_full_disk_is_stopped_not_complete(server, reference, tmp_path):
    """Run again on a finished run, a journal that cannot grow stopped the session with
    exit 4, but its end could not save (export read through the failed journal) and
    manifest.json went on saying "complete" from the session before."""
    config, seeds, ref = reference
    out = copy_of(ref, tmp_path)
    cap = (ref / "state.sqlite").stat().st_size // 2  # room for the exports, not the replay's writes

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

    argv, environ = command(config, seeds, out), env(tmp_path)
    full = subprocess.run(
        argv, env=environ, capture_output=True, text=True, timeout=600, preexec_fn=small_disk
    )
    lines = [line for line in full.stderr.splitlines() if line.strip()]
    assert full.returncode == 4 and len(lines) == 1 and "Traceback" not in full.stderr, full.stderr
    assert f"cannot write the run state {out / 'state.sqlite'}" in lines[0]
    stopped = manifest(out)
    assert stopped["status"] == "stopped" and stopped["sessions"] == 2
    assert "cannot write the run state" in stopped["error"]
    assert stopped["kept"] == len(rows(out / "kept.jsonl"))  # exported from what the journal holds
    # the replay's progress did not take back the finished run's decisions: it exported fewer rows
    assert rows(out / "kept.jsonl") == rows(ref / "kept.jsonl")
    assert rows(out / "rejected.jsonl") == rows(ref / "rejected.jsonl")

    resumed = run_cli(config, seeds, out, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert manifest(out)["status"] == "complete" and manifest(out)["sessions"] == 3
    assert rows(out / "kept.jsonl") == rows(ref / "kept.jsonl")
    assert rows(out / "rejected.jsonl") == rows(ref / "rejected.jsonl")


def test_resuming_with_a_different_config_is_refused(server, reference, tmp_path):
    config, seeds, ref = reference
    ref = copy_of(ref, tmp_path)
    changed = stub_config(server.url)
    changed["pipeline"]["threshold"] = 2.0
    changed["models"]["judge"]["temperature"] = 0.7  # the judge's own default is 0
    config, seeds = write_inputs(tmp_path, changed)
    refused = run_cli(config, seeds, ref, tmp_path)
    assert refused.returncode == 2, refused.stderr
    # it names what changed, so the user knows what to put back
    assert "different config.models.judge.temperature, config.pipeline.threshold;" in refused.stderr
    assert manifest(ref)["status"] == "complete"  # the earlier run is untouched


def test_items_a_resumed_run_no_longer_reaches_leave_the_dataset(script, tmp_path):
    """A seed that failed in session 1 and encodes in session 2 shifts every
    metadata id; rows left from session 1 must not survive into the export."""
    import json

    import litellm

    import codeclm_dspy as cc
    from codeclm_dspy.pipeline.methods import apply_preset
    from codeclm_dspy.pipeline.records import Seed
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


@pytest.mark.parametrize("signals", [(signal.SIGTERM,), (signal.SIGINT, signal.SIGINT, signal.SIGINT)])
def test_sigterm_or_repeated_ctrl_c_stop_cleanly_and_resume(server, reference, tmp_path, signals):
    """SIGTERM used to kill the process with no manifest; a second Ctrl-C during the
    clean stop (about 3 s) broke it off with a traceback. Both now stop once, write the
    manifest as interrupted, and the same command finishes the reference dataset."""
    config, seeds, ref = reference
    out = tmp_path / "stopped"
    process = subprocess.Popen(
        command(config, seeds, out), env=env(tmp_path), stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while recorded_calls(out) < 30 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    for sig in signals:
        process.send_signal(sig)
        time.sleep(0.05)
    stderr = process.communicate(timeout=120)[1]
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted; run the same command again" in stderr
    assert manifest(out)["status"] == "interrupted"

    resumed = run_cli(config, seeds, out, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert rows(out / "kept.jsonl") == rows(ref / "kept.jsonl")
