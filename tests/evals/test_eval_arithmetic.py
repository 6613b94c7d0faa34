"""The evals' arithmetic on hand-made cases with known answers."""

import numpy as np
import pytest

from evals import (
    contamination,
    coverage,
    crr,
    distinct_n,
    mean_nn_similarity,
    mean_pairwise_distance,
    near_duplicate_rate,
    precision,
    verdict,
)


def test_verdict_needs_both_orders():
    assert verdict((8, 5), (7, 6)) == "win"
    assert verdict((3, 5), (2, 9)) == "loss"
    assert verdict((8, 5), (5, 8)) == "tie"  # a split decision
    assert verdict((6, 6), (7, 5)) == "tie"  # equal scores in one order


def test_crr_reproduces_the_papers_table_5():
    # CodecLM, LLaMA-7B vs Gemini-Pro on Evol-Instruct: 29 / 145 / 44 -> 79.82%
    result = crr(["win"] * 29 + ["tie"] * 145 + ["loss"] * 44)
    assert (result.wins, result.ties, result.losses, result.total) == (29, 145, 44, 218)
    assert round(result.crr * 100, 2) == 79.82
    # the normal approximation: 0.798 +- 1.96 * sqrt(p(1-p)/n) = [0.745, 0.851]
    assert result.ci_low == pytest.approx(0.745, abs=0.01)
    assert result.ci_high == pytest.approx(0.851, abs=0.01)
    assert result.ci_low < result.crr < result.ci_high


def test_crr_interval_collapses_when_every_item_agrees():
    result = crr(["tie"] * 80)
    assert result.crr == result.ci_low == result.ci_high == 1.0
    with pytest.raises(ValueError):
        crr([])
    with pytest.raises(ValueError, match="win, tie or loss"):
        crr(["draw"])


def test_crr_interval_narrows_with_more_items():
    small, large = crr(["win", "loss"] * 40), crr(["win", "loss"] * 400)
    assert (small.ci_high - small.ci_low) > 2.5 * (large.ci_high - large.ci_low)


AXES = np.eye(4, dtype=np.float32)


def test_coverage_and_precision_on_known_geometry():
    heldout = AXES[:4]  # four directions
    generated = np.stack([AXES[0], AXES[1], AXES[0] + 0.05 * AXES[2], -AXES[3]])
    # held-out 0 and 1 are covered; 2 has only a 0.05-cos neighbour; 3 only its opposite
    assert coverage(heldout, generated, 0.9) == 0.5
    assert precision(heldout, generated, 0.9) == 0.75  # the opposite vector matches nothing
    assert mean_nn_similarity(heldout, generated) == pytest.approx(
        (1 + 1 + 0.05 / np.sqrt(1.0025) + 0) / 4, abs=1e-3
    )


def test_diversity_and_near_duplicates():
    assert distinct_n(["a b c", "a b d"], 2) == 3 / 4
    assert distinct_n(["same words here", "same words here"], 1) == 0.5
    assert mean_pairwise_distance(AXES) == pytest.approx(1.0)  # orthogonal: distance 1
    assert mean_pairwise_distance(np.stack([AXES[0]] * 3)) == pytest.approx(0.0, abs=1e-6)
    dups = np.stack([AXES[0], AXES[0] * 2, AXES[1], AXES[2]])
    assert near_duplicate_rate(dups, 0.95) == 0.5  # rows 0 and 1 are the same direction


def test_a_planted_contaminated_item_is_caught():
    ids, items = ["v1", "v2", "v3"], ["Write a poem about rain.", "Explain TCP.", "Plan a picnic."]
    generated = ["write  a POEM about rain.", "Describe a volcano.", "Explain how TCP works, briefly."]
    gen_emb = np.stack([AXES[0], AXES[3], AXES[1] * 0.98 + AXES[2] * 0.1])
    flags = contamination(generated, gen_emb, {"vicuna": (ids, items, AXES[:3])}, threshold=0.9)
    assert [(f["index"], f["eval_id"], f["kind"]) for f in flags] == [(0, "v1", "exact"), (2, "v2", "near")]
