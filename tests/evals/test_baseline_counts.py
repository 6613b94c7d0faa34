"""The baselines' typed counts: each method's own checks catch a miscount; the manifest gets plain JSON."""

import json

import pytest

from codeclm_dspy.pipeline.counts import Decode, MetadataCounts, Seeds
from evals.baselines.counts import (
    BasicInstructions,
    BootstrapRound,
    Calls,
    EvolInstructCounts,
    EvolRound,
    EvolSeeds,
    Operation,
    Passes,
    SeedTotal,
    SelfInstructCounts,
    WizardLMPlusCounts,
)


def self_instruct() -> SelfInstructCounts:
    """Two calls wrote 5 candidates: 2 kept, 1 duplicate, 2 dropped; 1 pair short."""
    c = SelfInstructCounts.start(SeedTotal(total=2), 3, ("length", "refusal"), calls=Calls(max=2))
    c.calls.made, c.calls.ok = 2, 2
    c.rounds.append(BootstrapRound(round=1, calls=2, candidates=5, accepted=4, kept=2))
    c.instructions.generated = 5
    c.keep()
    c.keep()
    c.instructions.duplicates += 1
    c.drop("length")
    c.drop("refusal")
    c.instructions.settle("calls_exhausted")
    return c


def evol_instruct() -> EvolInstructCounts:
    """One pass of one round over 2 seeds: one kept, one failed."""
    c = EvolInstructCounts.start(
        EvolSeeds(total=2), 1, ("empty",), operations={"deepen": Operation()}, passes=Passes(max=1, made=1)
    )
    c.rounds.append(EvolRound(round=1, pass_=1, evolved=2, kept=1, failed=1))
    c.operations["deepen"].tried, c.operations["deepen"].kept = 2, 1
    c.instructions.generated, c.instructions.failed = 2, 1
    c.keep()
    c.seeds.evolved = 1
    c.instructions.settle("rounds_exhausted")
    return c


def test_a_balanced_baseline_passes_every_check():
    assert self_instruct().accounting(2) == {
        "balanced": True,
        "seeds": True,
        "instructions": True,
        "quota": True,
        "shortfall_reason": True,
        "reasons": True,
        "calls": True,
    }
    assert evol_instruct().accounting(2)["balanced"]


def test_self_instruct_catches_calls_over_the_cap():
    c = self_instruct()
    c.calls.made += 1
    c.calls.failed += 1  # answered or failed, each once: only the cap is broken
    accounting = c.accounting(2)
    assert [k for k, ok in accounting.items() if not ok] == ["balanced", "calls"]


def test_evol_instruct_catches_an_attempt_missing_from_its_round():
    c = evol_instruct()
    c.rounds[0].failed -= 1
    accounting = c.accounting(2)
    assert [k for k, ok in accounting.items() if not ok] == ["balanced", "rounds"]


def test_a_drop_reason_the_method_does_not_have_is_refused():
    c = self_instruct()
    with pytest.raises(ValueError, match="'similar' is not one of this method's reasons"):
        c.drop("similar")
    assert c.instructions.dropped == 2 and c.accounting(2)["balanced"]


def test_baseline_manifests_are_plain_json():
    counts = evol_instruct().to_manifest()
    assert json.loads(json.dumps(counts)) == counts
    assert counts["seeds"] == {"total": 2, "evolved": 1}
    assert counts["rounds"] == [
        {"round": 1, "pass": 1, "evolved": 2, "kept": 1, "dropped": 0, "duplicates": 0, "failed": 1}
    ]
    assert counts["instructions"]["shortfall_reason"] is None
    assert counts["operations"] == {"deepen": {"tried": 2, "kept": 1}}
    assert self_instruct().to_manifest()["instructions"]["shortfall_reason"] == "calls_exhausted"


def test_wizardlm_plus_checks_both_halves_and_writes_evol_instruct_at_the_top():
    front = Seeds(total=1, encoded=1)
    meta = MetadataCounts(from_seeds=1, pool=1)
    basic = BasicInstructions(generated=3, duplicates=1, evolved=2, by_reason={"duplicate": 1})
    c = WizardLMPlusCounts(
        seeds=front,
        metadata=meta,
        decode=Decode(rounds=1, calls=1),
        basic_instructions=basic,
        evol=evol_instruct(),
    )
    assert c.instructions is c.evol.instructions
    accounting = c.accounting(1)
    assert accounting["balanced"] and accounting["evol_rounds"] and accounting["basic_instructions"]
    counts = c.to_manifest()
    assert json.loads(json.dumps(counts)) == counts
    assert counts["seeds"] == {"total": 1, "encoded": 1, "rejected": 0, "failed": 0}
    assert counts["evol_pool"] == {"total": 2, "evolved": 1}
    assert counts["instructions"]["kept"] == 1 and "evol" not in counts
    basic.generated += 1  # a basic instruction that went nowhere
    assert [k for k, ok in c.accounting(1).items() if not ok] == ["balanced", "basic_instructions"]
