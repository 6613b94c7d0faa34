"""A provider that dies mid-run stops the run; it never passes for success.

The stub server is SIGKILLed after a counted number of served calls (its own
``/stats``, not wall-clock, so a slow machine still kills it mid-run). The
run must stop with exit 4 and one line naming the endpoint and what failed,
mark no item failed for it, and resume to the dataset an uninterrupted run
makes once the server is back on the same port.
"""

import re
import socket
import subprocess
import threading
import time

import pytest

import codeclm_dspy as cc
from benchmarks.stub_server import StubServer
from codeclm_dspy.config import parse_config
from codeclm_dspy.errors import ProviderUnreachable
from codeclm_dspy.pipeline.records import Seed
from tests.engine_helpers import SEEDS, command, env, manifest, rows, run_cli, stub_config, write_inputs

KEY = "sk-stub-test"


def small(url: str, **role) -> dict:
    """The stub config with two retries (a quick stop) and a smaller run."""
    config = stub_config(url, **{"num_retries": 2, **role})
    config["pipeline"]["num_instructions"] = 12
    return config


def test_a_provider_killed_mid_run_stops_it_and_the_same_command_resumes(tmp_path):
    with StubServer(delay_ms=20) as stub:
        config, seeds = write_inputs(tmp_path, small(stub.url))
        ref = run_cli(config, seeds, tmp_path / "reference", tmp_path)
        assert ref.returncode == 0, ref.stderr
        total = manifest(tmp_path / "reference")["usage"]["calls"]

        out = tmp_path / "run"
        served = stub.stats()["requests"]
        argv, environ = command(config, seeds, out), env(tmp_path)
        proc = subprocess.Popen(argv, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while proc.poll() is None and stub.stats()["requests"] - served < total // 2:
            time.sleep(0.01)
        stub.kill()
        stdout, stderr = proc.communicate(timeout=120)
        port = stub.port

    assert proc.returncode == 4, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert f"127.0.0.1:{port}" in lines[0] and "connection refused" in lines[0], lines[0]
    assert "run the same command again to resume" in lines[0] and KEY not in stderr + stdout
    state = manifest(out)
    assert state["status"] == "stopped" and "connection refused" in state["error"]
    assert 0 < state["usage"]["calls"] < total  # it did stop mid-run
    assert [r for r in rows(out / "rejected.jsonl") if r["outcome"] == "failed"] == []

    with StubServer(delay_ms=20, port=port) as back:  # the provider is back, same URL
        resumed = run_cli(config, seeds, out, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        # only the calls the stopped run had no answer for were sent again
        assert back.stats()["requests"] == total - state["usage"]["calls"]
    done = manifest(out)
    assert done["status"] == "complete" and done["accounting"]["balanced"], done["accounting"]
    for name in ("kept.jsonl", "rejected.jsonl"):
        assert rows(out / name) == rows(tmp_path / "reference" / name), name
    assert done["counts"] == manifest(tmp_path / "reference")["counts"]


def run_in_process(url: str, out):
    config = parse_config(small(url, num_retries=0))
    seeds = [Seed(s["id"], s["instruction"]) for s in SEEDS]
    with pytest.raises(ProviderUnreachable) as stopped:
        cc.generate(config, seeds, out=out)
    return str(stopped.value)


@pytest.fixture
def stub_key(monkeypatch):
    monkeypatch.setenv("STUB_API_KEY", KEY)


def test_tls_to_a_plain_http_server_stops_the_run_naming_tls(stub_key, tmp_path):
    with StubServer() as stub:
        message = run_in_process(stub.url.replace("http://", "https://"), tmp_path / "run")
    assert f"127.0.0.1:{stub.port}" in message and "TLS failed" in message
    assert "\n" not in message and KEY not in message
    state = manifest(tmp_path / "run")
    assert state["status"] == "stopped" and rows(tmp_path / "run" / "rejected.jsonl") == []


def drain(conn: socket.socket) -> None:
    """Read the whole request: it may arrive in pieces (headers, then body)."""
    conn.settimeout(1.0)
    try:
        while conn.recv(65536):
            pass
    except OSError:
        pass


def test_a_server_that_hangs_up_on_every_request_stops_the_run(stub_key, tmp_path):
    """It accepts the connection (so the up-front check passes) and closes it unanswered."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def hang_up():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            drain(conn)  # closing with unread bytes would send a reset, not a hang-up
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        message = run_in_process(f"http://127.0.0.1:{port}/v1", tmp_path / "run")
    finally:
        listener.close()
    assert re.search(rf"127\.0\.0\.1:{port} \(openai/stub-\w+\): the server closed the connection", message)
    assert manifest(tmp_path / "run")["status"] == "stopped"
    assert rows(tmp_path / "run" / "rejected.jsonl") == []


@pytest.mark.parametrize("provider", ["openai", "aiohttp_openai"])
def test_a_read_timeout_is_the_items_and_fails_only_it(stub_key, tmp_path, provider):
    """A server that takes the request and answers too late is reachable: the
    item that timed out fails with its error, and the run finishes. The
    engine enforces the timeout itself: ``aiohttp_openai/``'s client ignores it."""
    with StubServer(fault_rate=0.15, seed=11, hang_s=3.0, delay_ms=1, faults=("timeout",)) as stub:
        config = small(stub.url, num_retries=0, timeout=0.5)
        for role in config["models"].values():
            role["model"] = role["model"].replace("openai/", f"{provider}/", 1)
        config, seeds = write_inputs(tmp_path, config)
        done = run_cli(config, seeds, tmp_path / "run", tmp_path)
        faults = stub.stats()["faults"]
    assert done.returncode == 0, done.stderr
    assert faults.get("timeout", 0) > 0
    failed = [r for r in rows(tmp_path / "run" / "rejected.jsonl") if r["outcome"] == "failed"]
    assert any("Timeout" in r["error"] for r in failed)
    assert manifest(tmp_path / "run")["status"] == "complete"


def test_a_server_that_answers_nothing_in_time_stops_the_run_and_the_same_command_resumes(stub_key, tmp_path):
    """One read timeout fails its item (above); read timeouts one after another with
    no answer between say the server takes requests and answers none. The run stops
    with exit 4 and one line naming the role, the endpoint and its timeout, instead
    of failing every seed and finishing empty; once the server answers, the same
    command sends the timed-out calls again and ends with the dataset of a run that
    never met the hang."""
    out = tmp_path / "run"
    # 2 s, not 0.3: the resumed and the reference run must not lose an item to a slow 1 ms
    # answer on a loaded machine (at 0.3 s their datasets once differed in a CI run, most
    # likely so); still a stop within seconds
    with StubServer(fault_rate=1.0, hang_s=6.0, delay_ms=1, faults=("timeout",)) as stub:
        config, seeds = write_inputs(tmp_path, small(stub.url, num_retries=0, timeout=2))
        stopped = run_cli(config, seeds, out, tmp_path)
        port = stub.port
    assert stopped.returncode == 4, stopped.stderr
    lines = [line for line in stopped.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stopped.stderr
    pattern = (
        rf"the (\w+) model's provider at 127\.0\.0\.1:{port} \(openai/stub-\1\) answered none of "
        rf"\d+ requests in a row within models\.\1\.timeout \(2 s, 1 attempt each\)"
    )
    assert re.search(pattern, lines[0]), lines[0]
    assert "run the same command again to resume" in lines[0] and KEY not in stopped.stderr
    assert manifest(out)["status"] == "stopped" and manifest(out)["usage"]["calls"] == 0

    with StubServer(delay_ms=1, port=port):  # the same URL, answering now
        resumed = run_cli(config, seeds, out, tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        reference = run_cli(config, seeds, tmp_path / "reference", tmp_path)
        assert reference.returncode == 0, reference.stderr
    done = manifest(out)
    assert done["status"] == "complete" and done["accounting"]["balanced"], done["accounting"]
    for name in ("kept.jsonl", "rejected.jsonl"):
        assert rows(out / name) == rows(tmp_path / "reference" / name), name
    assert done["counts"] == manifest(tmp_path / "reference")["counts"]
