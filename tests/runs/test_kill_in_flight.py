"""A run killed with 100+ requests in flight resumes to the dataset of an uninterrupted run.

The requests in flight at a SIGKILL were sent and never answered to the
run: none is in the journal, so the resumed run sends them again, and the
answers already journaled are never asked for twice. The stub server holds
each request for a second and counts how many it holds, so "100 in flight"
is the server's count, not a guess; the run resumes against the same URL
answering at once, which counts what the resumed run sends.
"""

import os
import signal
import time

from benchmarks.stub_server import StubServer
from tests.engine_helpers import ForkedCLI, manifest, recorded_calls, rows, run_cli, stub_config, write_inputs

IN_FLIGHT = 100


def wide(url: str) -> dict:
    """The stub config, wide enough that one stage holds well over 100 requests at once."""
    config = stub_config(url, concurrency=160)
    config["pipeline"].update(metadata_pool_size=40, num_instructions=160, max_iterations=2)
    config["engine"].update(workers=160)
    return config


def test_sigkill_with_100_calls_in_flight_then_resume_gives_the_same_dataset(tmp_path):
    with StubServer(delay_ms=0) as fast:  # answers are a function of the request, not of the delay
        ref_config, seeds = write_inputs(tmp_path, wide(fast.url))
        done = run_cli(ref_config, seeds, tmp_path / "reference", tmp_path)
        assert done.returncode == 0, done.stderr
    reference = tmp_path / "reference"
    with StubServer(delay_ms=1000) as slow:
        killed = tmp_path / "killed"
        (tmp_path / "slow").mkdir()
        config, seeds = write_inputs(tmp_path / "slow", wide(slow.url))
        proc = ForkedCLI().start(config, seeds, killed, tmp_path)
        deadline = time.monotonic() + 300
        while proc.is_alive() and slow.stats()["in_flight"] < IN_FLIGHT and time.monotonic() < deadline:
            time.sleep(0.05)
        held = slow.stats()["in_flight"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        assert held >= IN_FLIGHT, f"only {held} requests were in flight at the kill"
        assert proc.exitcode == -signal.SIGKILL
        journaled, port = recorded_calls(killed), slow.port
    # the same URL answering at once: the resumed run need not wait a second a call
    with StubServer(delay_ms=0, port=port) as same:
        final = run_cli(config, seeds, killed, tmp_path)
        assert final.returncode == 0, final.stderr
        sent = same.stats()["requests"]
    done = manifest(killed)
    assert done["status"] == "complete" and done["accounting"]["balanced"] and done["sessions"] == 2
    for name in ("kept.jsonl", "rejected.jsonl"):
        assert rows(killed / name) == rows(reference / name), f"{name}: rows lost or changed"
    assert done["counts"] == manifest(reference)["counts"]
    # every answer journaled before the kill was replayed, not asked for again:
    # the resumed session sent exactly the reference's calls the journal lacked
    total = manifest(reference)["usage"]["calls"]
    assert done["usage"]["calls"] == total
    assert 0 < journaled < total and sent == total - journaled
