"""Sender processes (``engine.senders``): the same run, its calls made by child processes.

What a user depends on: the dataset, the counts and the calls are those of a
run that sends from its own process; a provider's errors stop or fail
exactly as they would there, with the same one line; a sender that dies
stops the run resumably; and a run killed with SIGKILL leaves no sender
behind.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

from benchmarks.stub_server import StubServer
from tests.engine_helpers import command, env, manifest, rows, run_cli, stub_config, write_inputs

KEY = "sk-stub-test"


def config_with(url: str, senders: int, **role) -> dict:
    config = stub_config(url, **role)
    config["engine"].update(senders=senders, workers=8)
    return config


def run(tmp: Path, name: str, config: dict, **kw) -> subprocess.CompletedProcess:
    where = tmp / name
    where.mkdir()
    config_path, seeds = write_inputs(where, config)
    return run_cli(config_path, seeds, where / "run", tmp, **kw)


def children_of(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_run_through_senders_is_the_run_from_its_own_process(tmp_path):
    with StubServer(delay_ms=5) as stub:
        own = run(tmp_path, "own", config_with(stub.url, 0))
        assert own.returncode == 0, own.stderr
        calls_own = stub.stats()["requests"]
        sent = run(tmp_path, "sent", config_with(stub.url, 2))
        assert sent.returncode == 0, sent.stderr
        calls_sent = stub.stats()["requests"] - calls_own
    assert calls_sent == calls_own > 0
    for name in ("kept.jsonl", "rejected.jsonl"):
        assert rows(tmp_path / "sent" / "run" / name) == rows(tmp_path / "own" / "run" / name), name
    a, b = manifest(tmp_path / "own" / "run"), manifest(tmp_path / "sent" / "run")
    assert b["status"] == "complete" and b["counts"] == a["counts"]
    assert b["usage"]["calls"] == a["usage"]["calls"] == calls_own


def test_a_bad_key_reads_the_same_from_a_sender(tmp_path):
    """What stops the run, and its one line, are decided as in-process."""
    with StubServer(delay_ms=0, require_key=KEY) as stub:
        config = {n: config_with(stub.url, n, num_retries=1) for n in (0, 1)}
        own, sent = (run(tmp_path, f"s{n}", config[n], key="sk-wrong") for n in (0, 1))
    assert own.returncode == sent.returncode == 4, (own.stderr, sent.stderr)
    assert sent.stderr == own.stderr and len(own.stderr.strip().splitlines()) == 1, own.stderr
    assert "invalid api key" in own.stderr and "sk-wrong" not in sent.stderr


def test_a_server_that_dies_under_a_sender_stops_the_run_naming_it(tmp_path):
    """A refused connection in the child is the same ProviderUnreachable line as in-process."""
    with StubServer(delay_ms=20) as stub:
        proc, _, _ = start(tmp_path, "dying", config_with(stub.url, 1, num_retries=1))
        senders_of(proc, 1, stub)
        stub.kill()
        _, stderr = proc.communicate(timeout=120)
        port = stub.port
    assert proc.returncode == 4, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "connection refused" in lines[0], stderr
    assert manifest(tmp_path / "dying" / "run")["status"] == "stopped"


def test_a_retried_rate_limit_through_a_sender_still_keeps_every_pair(tmp_path):
    """429s (with Retry-After) and 500s come back from the child as LiteLLM's errors and are retried."""
    with StubServer(delay_ms=0, fault_rate=0.08, faults=("429", "500")) as stub:
        done = run(tmp_path, "faulty", config_with(stub.url, 1, num_retries=6))
        faults = stub.stats()["faults"]
    assert done.returncode == 0, done.stderr
    out = manifest(tmp_path / "faulty" / "run")
    assert sum(faults.values()) > 0 and out["accounting"]["balanced"]
    assert [r for r in rows(tmp_path / "faulty" / "run" / "rejected.jsonl") if r["outcome"] == "failed"] == []
    assert out["kept"] == 24


def start(tmp: Path, name: str, config: dict) -> tuple[subprocess.Popen, Path, Path]:
    where = tmp / name
    where.mkdir()
    config_path, seeds = write_inputs(where, config)
    out = where / "run"
    proc = subprocess.Popen(
        command(config_path, seeds, out),
        env=env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, config_path, seeds


def senders_of(proc: subprocess.Popen, count: int, stub: StubServer) -> list[int]:
    """The run's sender processes, once it has sent something through them."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        kids = [
            pid
            for pid in children_of(proc.pid)
            if b"engine.senders" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        if len(kids) == count and stub.stats()["requests"] > 20:
            return kids
        time.sleep(0.05)
    raise AssertionError(f"no {count} senders appeared; {proc.communicate()}")


def test_a_sender_that_dies_stops_the_run_and_the_same_command_resumes(tmp_path):
    with StubServer(delay_ms=20) as stub:
        ref = run(tmp_path, "reference", config_with(stub.url, 0))
        assert ref.returncode == 0, ref.stderr
        proc, config_path, seeds = start(tmp_path, "killed", config_with(stub.url, 2))
        os.kill(senders_of(proc, 2, stub)[0], signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
        out = tmp_path / "killed" / "run"
        assert proc.returncode == 4, stderr
        assert "sender process" in stderr and "run the same command again to resume" in stderr
        state = manifest(out)
        assert state["status"] == "stopped"
        assert [r for r in rows(out / "rejected.jsonl") if r["outcome"] == "failed"] == []
        resumed = run_cli(config_path, seeds, out, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
    reference = tmp_path / "reference" / "run"
    for name in ("kept.jsonl", "rejected.jsonl"):
        assert rows(out / name) == rows(reference / name), name
    assert manifest(out)["counts"] == manifest(reference)["counts"]


def test_a_run_killed_leaves_no_sender_behind(tmp_path):
    with StubServer(delay_ms=50) as stub:
        proc, _, _ = start(tmp_path, "killed", config_with(stub.url, 2))
        kids = senders_of(proc, 2, stub)
        proc.kill()
        proc.communicate(timeout=60)
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert not any(alive(pid) for pid in kids)
