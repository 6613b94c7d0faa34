"""CodecLM's typed counts: each filter round counted once, accounting that catches a miscount, plain JSON."""

import json

import pytest

from codeclm_dspy.pipeline.counts import plain
from codeclm_dspy.pipeline.funnel import Funnel
from codeclm_dspy.pipeline.records import Attempt, Metadata, Trajectory

META = Metadata("m0", "qa", ("x",), ("s0",))


def traj(rounds: int) -> Trajectory:
    t = Trajectory("m0-000", META, "Explain the thing well")
    t.attempts = [Attempt(i, "q", "a", "b", {}, 5, 5, 0) for i in range(1, rounds + 1)]
    return t


def rows(funnel: Funnel):
    return [{k: v for k, v in r.items() if v and k != "iteration"} for r in plain(funnel.iterations)]


def test_a_failure_after_two_rounds_sent_both_back():
    f = Funnel(4)
    f.trajectory(traj(2), None, "failed")  # failed while improving for round 3
    assert rows(f) == [{"judged": 1, "sent_back": 1}, {"judged": 1, "sent_back": 1}, {"failed": 1}, {}]


def test_kept_dropped_and_refused_end_where_they_happened():
    f = Funnel(3)
    f.trajectory(traj(2), "target", "kept")
    f.trajectory(traj(3), None, "dropped")
    f.trajectory(traj(1), None, "rejected")  # the answer to keep was refused in round 1
    f.trajectory(traj(1), None, "refused_rewrite")  # the rewrite for round 2 leaked
    assert rows(f) == [
        {"judged": 4, "sent_back": 3, "rejected": 1},
        {"judged": 2, "sent_back": 1, "kept_target": 1, "rejected": 1},
        {"judged": 1, "dropped": 1},
    ]


def test_ablations_without_filtering_count_no_rounds():
    f = Funnel(3, judged=False)
    f.trajectory(traj(1), "strong", "kept")
    assert rows(f) == [{}, {}, {}]


def test_an_unknown_ending_is_a_bug_not_a_failure():
    f = Funnel(2)
    with pytest.raises(ValueError, match="unknown ending 'kep'"):
        f.trajectory(traj(1), "strong", "kep")
    assert rows(f) == [{}, {}]


def small_run() -> Funnel:
    """The counts of a small finished run: 3 seeds, a pool of 3, 4 pairs asked for and kept."""
    f = Funnel(2)
    f.seeds.total, f.seeds.encoded, f.seeds.failed = 3, 2, 1
    m = f.metadata
    m.from_seeds, m.mixed_candidates, m.implausible, m.pool = 2, 2, 1, 3
    f.decode.rounds, f.decode.calls = 1, 3
    f.instructions.planned, f.instructions.generated = 4, 8
    for source in ("strong", "strong", "target", "target"):
        f.keep(source)
    f.duplicate()
    f.reject("prompt_leak")
    f.drop("within_threshold")
    f.left_over("over_quota")
    f.instructions.settle(None)
    return f


def test_a_balanced_run_passes_every_check():
    accounting = small_run().accounting(3)
    assert accounting == {
        "balanced": True,
        "seeds": True,
        "metadata": True,
        "instructions": True,
        "quota": True,
        "shortfall_reason": True,
        "reasons": True,
    }


def _generated_but_never_ended(f):
    f.instructions.generated += 1


def _dropped_without_a_reason(f):
    f.instructions.generated += 1
    f.instructions.dropped += 1


def _short_without_a_reason(f):
    f.instructions.planned += 1
    f.instructions.shortfall += 1


def _kept_past_the_quota(f):
    f.instructions.generated += 1
    f.keep("strong")
    f.instructions.settle("a wave bigger than the quota needed")  # a shortfall of -1


def _a_seed_lost(f):
    f.seeds.failed -= 1  # the failed seed was never counted


def _a_mixed_metadata_lost(f):
    f.metadata.mixed_candidates += 1


@pytest.mark.parametrize(
    ("miscount", "check"),
    [
        (_generated_but_never_ended, "instructions"),
        (_dropped_without_a_reason, "reasons"),
        (_short_without_a_reason, "shortfall_reason"),
        (_kept_past_the_quota, "quota"),
        (_a_seed_lost, "seeds"),
        (_a_mixed_metadata_lost, "metadata"),
    ],
)
def test_accounting_catches_each_miscount(miscount, check):
    f = small_run()
    miscount(f)
    accounting = f.accounting(3)
    assert not accounting["balanced"] and not accounting[check], accounting
    assert [k for k, ok in accounting.items() if not ok] == ["balanced", check]


def test_the_seed_count_must_match_the_seeds_given():
    assert not small_run().accounting(4)["seeds"]


def test_the_manifest_counts_are_plain_json_in_the_manifest_shape():
    f = small_run()
    f.trajectory(traj(2), "target", "kept")
    counts = f.to_manifest()
    assert json.loads(json.dumps(counts)) == counts
    assert list(counts) == ["seeds", "metadata", "decode", "instructions", "not_kept_by_reason", "iterations"]
    assert counts["seeds"] == {"total": 3, "encoded": 2, "rejected": 0, "failed": 1}
    assert counts["instructions"]["kept"] == 4 and counts["instructions"]["kept_target"] == 2
    assert counts["instructions"]["shortfall_reason"] is None
    assert counts["not_kept_by_reason"] == {
        "duplicate": 1,
        "prompt_leak": 1,
        "within_threshold": 1,
        "over_quota": 1,
    }
    assert counts["iterations"][1] == {
        "iteration": 2,
        "judged": 1,
        "kept_strong": 0,
        "kept_target": 1,
        "sent_back": 0,
        "dropped": 0,
        "rejected": 0,
        "failed": 0,
    }
    # a copy: counting on does not change what was written
    f.drop("within_threshold")
    assert counts["not_kept_by_reason"]["within_threshold"] == 1
