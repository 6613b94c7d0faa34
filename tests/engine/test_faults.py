"""Fault injection: about 20% of calls fail (429, 500, timeout, malformed
JSON, empty content), and the run still finishes with every item accounted
for: kept, rejected with a reason, or failed with its error."""

import pytest

from benchmarks.stub_server import StubServer
from tests.engine_helpers import SEEDS, manifest, rows, run_cli, stub_config, write_inputs


@pytest.fixture(scope="module")
def faulty():
    with StubServer(delay_ms=5, fault_rate=0.2, seed=3, hang_s=5.0) as stub:
        yield stub


def test_a_run_through_20_percent_faults_accounts_for_every_item(faulty, tmp_path):
    # timeout 1 s: the stub's "timeout" fault hangs for 5 s, so the client gives up and retries.
    # 8 retries: with 4, one request in about 3,000 met a fault on all 5 attempts (0.2^5), and when
    # the last was a 429 the rate limit (rightly) stopped the run; at 0.2^9 that no longer happens.
    config, seeds = write_inputs(tmp_path, stub_config(faulty.url, timeout=1.0, num_retries=8))
    done = run_cli(config, seeds, tmp_path / "run", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    faults = faulty.stats()["faults"]
    assert set(faults) == {"429", "500", "timeout", "malformed", "empty"}  # every kind was served
    out = manifest(tmp_path / "run")
    assert out["status"] == "complete" and out["accounting"]["balanced"], out["accounting"]
    counts = out["counts"]
    kept, rejected = rows(tmp_path / "run" / "kept.jsonl"), rows(tmp_path / "run" / "rejected.jsonl")

    # Every seed: encoded, or failed with its error.
    seed_rows = [r for r in rejected if r["kind"] == "seed"]
    assert counts["seeds"]["encoded"] + len(seed_rows) == len(SEEDS)
    # Every basic instruction: kept, dropped, a duplicate, refused by a quality
    # gate, beyond the quota, or failed with its error.
    instr = [r for r in rejected if r["kind"] == "instruction"]
    i = counts["instructions"]
    not_kept = (
        i["dropped"] + i["duplicates"] + i["failed"] + i["rejected"] + i["over_quota"] + i["max_overdraw"]
    )
    assert len(kept) == i["kept"] and len(instr) == not_kept
    assert i["generated"] == len(kept) + len(instr)
    for row in rejected:
        assert row["outcome"] in {"rejected", "failed"} and row["reason"] and row["stage"]
        if row["outcome"] == "failed":
            assert row["error"]  # the error travels with the item
    # Malformed answers were retried with fresh rollouts, and the rate is reported.
    assert sum(r["parse_failures"] for r in out["parse_failures"].values()) > 0
    # Nothing is left half-done in the run's state.
    assert "running" not in out["items"]


def test_an_api_base_whose_host_is_no_dns_name_is_unreachable_not_a_crash():
    from codeclm_dspy.engine.preflight import check_reachable
    from codeclm_dspy.errors import ProviderError

    with pytest.raises(ProviderError, match="not a valid DNS name"):  # IDNA raised UnicodeError
        check_reachable("strong", "http://" + "a" * 300 + ".com/v1")
