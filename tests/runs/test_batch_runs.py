"""Batch mode end to end against the stub's batch API: same dataset as online, resumable, nothing lost.

The stub answers a batch line exactly as its chat endpoint answers the same
body, so a batch run must end with the online run's rows and the same number
of paid calls; its counters of batches created are the witness for "never
submitted twice".
"""

import os
import signal
import sqlite3
import subprocess
import time

import pytest

from benchmarks.stub_server import StubServer
from codeclm_dspy.config import Config
from codeclm_dspy.runs.batch_rounds import batch_roles
from tests.engine_helpers import ForkedCLI, command, env, manifest, rows, run_cli, stub_config, write_inputs

FILES = ("kept.jsonl", "rejected.jsonl")


def small(url: str, **role) -> dict:
    config = stub_config(url, **role)
    config["pipeline"].update(num_instructions=4, max_iterations=2)
    config["engine"]["batch"] = {"poll_s": 0.05}
    return config


def batched(url: str, **batch) -> dict:
    config = small(url, batch=True)
    config["engine"]["batch"].update(batch)
    return config


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The run online: its rows and its paid calls."""
    tmp = tmp_path_factory.mktemp("online")
    with StubServer() as stub:
        config, seeds = write_inputs(tmp, small(stub.url))
        done = run_cli(config, seeds, tmp / "out", tmp)
        assert done.returncode == 0, done.stderr
        assert stub.stats()["requests"] == manifest(tmp / "out")["usage"]["calls"]
    return tmp / "out"


def same_rows(out, reference) -> None:
    for name in FILES:
        assert rows(out / name) == rows(reference / name), f"{name}: rows differ from the online run"
    done = manifest(out)
    assert done["status"] == "complete" and done["accounting"]["balanced"]
    assert done["counts"] == manifest(reference)["counts"]


def test_the_run_switch_and_the_roles_choose_which_roles_batch():
    config = small("http://127.0.0.1:9/v1")
    config["models"]["strong"]["batch"] = True
    config["models"]["target"]["batch"] = False
    chosen = {}
    for switch in (None, True, False):  # unset, --batch, --online
        config["engine"]["batch"]["enabled"] = switch
        chosen[switch] = sorted(batch_roles(Config.model_validate(config)))
    assert chosen == {None: ["strong"], True: ["judge", "strong"], False: []}


def status(out, tmp) -> str:
    shown = ForkedCLI().run(["status", str(out)], env(tmp), timeout=120)
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def test_a_batch_run_gives_the_online_dataset_with_the_same_calls(reference, tmp_path):
    with StubServer() as stub:
        config, seeds = write_inputs(tmp_path, batched(stub.url))
        done = run_cli(config, seeds, tmp_path / "out", tmp_path)
        assert done.returncode == 0, done.stderr
        stats = stub.stats()
    same_rows(tmp_path / "out", reference)
    calls = manifest(reference)["usage"]["calls"]
    report = manifest(tmp_path / "out")["batch"]
    assert stats["requests"] == 0 and stats["batch"]["lines_answered"] == calls  # every call in a batch
    assert manifest(tmp_path / "out")["usage"]["calls"] == calls
    assert report["batch_calls"] == calls and report["online_calls"] == 0
    assert report["batches"] == stats["batch"]["created"] and report["rounds"] > 3
    shown = status(tmp_path / "out", tmp_path)
    assert "run " in shown and "complete" in shown and f"kept {manifest(reference)['kept']}" in shown
    assert f"batch rounds: {report['rounds']}; batches: {report['batches']} (0 in flight)" in shown
    assert "waiting: 0 requests" in shown


def test_an_online_target_answers_inside_the_rounds(reference, tmp_path):
    with StubServer() as stub:
        config = batched(stub.url)
        config["models"]["target"]["batch"] = False
        config, seeds = write_inputs(tmp_path, config)
        done = run_cli(config, seeds, tmp_path / "out", tmp_path)
        assert done.returncode == 0, done.stderr
        stats = stub.stats()
    same_rows(tmp_path / "out", reference)
    assert stats["requests"] == stats["by_model"]["stub-target"] > 0
    report = manifest(tmp_path / "out")["batch"]
    assert report["roles"] == ["judge", "strong"] and report["online_calls"] == stats["requests"]


def in_flight(out) -> list[tuple]:
    try:
        with sqlite3.connect(f"file:{out / 'state.sqlite'}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT id, provider_id FROM batches WHERE status = 'submitted'").fetchall()
    except sqlite3.Error:
        return []


def killed_with_a_batch_in_flight(stub, out, tmp_path):
    """Start a batch run and SIGKILL it once its first batch is on record as submitted."""
    config, seeds = write_inputs(tmp_path, batched(stub.url))
    proc = ForkedCLI().start(config, seeds, out, tmp_path)
    deadline = time.monotonic() + 120
    while proc.is_alive() and not in_flight(out) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    return config, seeds


def test_a_run_killed_while_a_batch_is_in_flight_resumes_without_submitting_it_again(reference, tmp_path):
    out = tmp_path / "out"
    with StubServer(batch_delay_s=3600) as stub:  # the first batch stays in flight
        config, seeds = killed_with_a_batch_in_flight(stub, out, tmp_path)
        ((_ours, batch_id),) = in_flight(out)
        assert stub.stats()["batch"]["created"] == 1
        shown = status(out, tmp_path)
        assert "batches: 1 (1 in flight)" in shown and f"in flight: {batch_id} (round 1, strong)" in shown
        assert "requests, " in shown and " old" in shown and "waiting: " in shown
        stub.batch_delay(0)  # the provider finishes it while no process waits
        resumed = run_cli(config, seeds, out, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        stats = stub.stats()
    same_rows(out, reference)
    done = manifest(out)
    assert done["sessions"] == 2 and done["usage"]["calls"] == manifest(reference)["usage"]["calls"]
    # the batch in flight was polled, never submitted again: one creation per batch on record
    assert stats["batch"]["created"] == done["batch"]["batches"] and stats["requests"] == 0
    assert done["batch"]["batches_by_status"] == {"completed": done["batch"]["batches"]}


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        ("DROP TABLE batches", "it has no batches table, though the run sent batches"),
        ("ALTER TABLE batch_requests DROP COLUMN outcome", "its batch_requests table has no column outcome"),
    ],
)
def test_damaged_batch_tables_are_refused_before_a_batch_is_submitted_again(tmp_path, edit, says):
    out = tmp_path / "out"
    with StubServer(batch_delay_s=3600) as stub:
        config, seeds = killed_with_a_batch_in_flight(stub, out, tmp_path)
        with sqlite3.connect(out / "state.sqlite") as conn:
            conn.execute(edit)
        conn.close()
        stub.batch_delay(0)
        resumed = run_cli(config, seeds, out, tmp_path)
        stats = stub.stats()
    lines = resumed.stderr.strip().splitlines()
    assert resumed.returncode == 2 and len(lines) == 1, resumed.stderr
    assert "state.sqlite is damaged: " + says in lines[0], lines[0]
    # before: the table was made again empty and the batch in flight submitted a second time
    assert stats["batch"]["created"] == 1 and stats["requests"] == 0


def test_a_batch_created_but_not_recorded_is_found_not_submitted_again(reference, tmp_path):
    """The kill landed between the provider creating a batch and the run recording its id."""
    out = tmp_path / "out"
    with StubServer(batch_delay_s=3600) as stub:
        config, seeds = killed_with_a_batch_in_flight(stub, out, tmp_path)
        with sqlite3.connect(out / "state.sqlite") as conn:  # as if the id never reached the disk
            # (never polled either: a poll before the kill would have left its status)
            conn.execute(
                "UPDATE batches SET status = 'submitting', provider_id = NULL, submitted = NULL,"
                " provider_status = NULL"
            )
        assert "not created yet" in status(out, tmp_path)
        stub.batch_delay(0)
        resumed = run_cli(config, seeds, out, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        stats = stub.stats()
    same_rows(out, reference)
    assert stats["batch"]["created"] == manifest(out)["batch"]["batches"] and stats["batch"]["lists"] >= 1


def test_expired_batches_and_failed_lines_are_retried_in_the_next_round(reference, tmp_path):
    with StubServer(batch_expire=2, batch_fail_rate=0.1) as stub:
        # A line can meet both expired batches (its place in each depends on
        # thread timing) and then its one failure: four attempts always suffice.
        config, seeds = write_inputs(tmp_path, batched(stub.url, max_attempts=4))
        done = run_cli(config, seeds, tmp_path / "out", tmp_path)
        assert done.returncode == 0, done.stderr
        stats = stub.stats()
    same_rows(tmp_path / "out", reference)  # every line answered in the end, as online
    report = manifest(tmp_path / "out")["batch"]
    assert (
        report["batches_by_status"]["expired"] == 2
        and report["lines_failed"] > stats["batch"]["lines_failed"] > 0
    )
    assert report["batch_calls"] == manifest(reference)["usage"]["calls"]


def test_failed_lines_can_be_retried_online(reference, tmp_path):
    with StubServer(batch_fail_rate=0.1) as stub:
        config, seeds = write_inputs(tmp_path, batched(stub.url, retry_failed="online"))
        done = run_cli(config, seeds, tmp_path / "out", tmp_path)
        assert done.returncode == 0, done.stderr
        stats = stub.stats()
    same_rows(tmp_path / "out", reference)
    report = manifest(tmp_path / "out")["batch"]
    assert stats["requests"] == stats["batch"]["lines_failed"] == report["lines_failed"] > 0
    assert report["online_calls"] == stats["requests"]


def test_lines_that_fail_for_good_fail_their_items_and_the_counts_still_add_up(tmp_path):
    with StubServer(batch_fail_rate=0.08, batch_fail_mode="always") as stub:
        config, seeds = write_inputs(tmp_path, batched(stub.url, max_attempts=2))
        done = run_cli(config, seeds, tmp_path / "out", tmp_path)
        assert done.returncode == 0, done.stderr
    finished = manifest(tmp_path / "out")
    assert finished["status"] == "complete" and finished["accounting"]["balanced"]
    failed = [r for r in rows(tmp_path / "out" / "rejected.jsonl") if r["outcome"] == "failed"]
    assert failed and all("BatchRequestFailed" in r["error"] and "(2 batches)" in r["error"] for r in failed)


def test_batch_mode_is_refused_where_it_cannot_work(tmp_path):
    config = small("http://127.0.0.1:9/v1")
    config["models"]["target"].update(model="hosted_vllm/qwen", batch=True)
    config, seeds = write_inputs(tmp_path, config)
    refused = run_cli(config, seeds, tmp_path / "out", tmp_path)
    assert (
        refused.returncode == 2 and "models.target: batch needs a provider with a batch API" in refused.stderr
    )
    assert "Traceback" not in refused.stderr and not (tmp_path / "out").exists()


def test_a_batch_api_that_stops_answering_stops_the_run_cleanly_with_the_batch_kept(tmp_path):
    out = tmp_path / "out"
    with StubServer(batch_delay_s=3600) as stub:
        config, seeds = write_inputs(tmp_path, batched(stub.url))
        proc = subprocess.Popen(
            command(config, seeds, out), env=env(tmp_path), stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and not in_flight(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        stub.kill()  # the provider dies while the run polls its batch
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 4, stderr
    assert "Traceback" not in stderr and "run the same command again to resume" in stderr
    assert manifest(out)["status"] == "stopped"
    assert "batches: 1 (1 in flight)" in status(out, tmp_path)
