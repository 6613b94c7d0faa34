"""The generators CodecLM is compared with: Self-Instruct and Evol-Instruct.

Each is a ``dspy.Module`` with CodecLM's generator surface (see
``codeclm_dspy.methods``), so a comparison holds everything else constant:
the same LMs through the same call engine, the same budget, journal and
resume, and the same run directory, whose kept rows have CodecLM's schema.
The helpers here are what both baselines share.
"""

from __future__ import annotations

from typing import Any

import dspy

from codeclm_dspy.records import Attempt, Metadata, Trajectory, kept_row, rejected_row, trajectory_details

# Calls that must be distinct requests (the k-th brainstorm, the r-th attempt
# to evolve one instruction) start at rollout k * ROLLOUT_STRIDE, so their
# parse retries never collide with the next one's first attempt. A fixed
# stride, unlike one derived from engine.parse_retries, keeps the requests of
# a resumed run the same when only the engine settings changed.
ROLLOUT_STRIDE = 16


def first_rollout(rt, k: int) -> int:
    """The rollout number of the ``k``-th call that must be a distinct request."""
    return k * max(ROLLOUT_STRIDE, rt.parse_retries + 1)


def lineage(item_id: str, basic: str, actions: list[str], seed_ids: list[str]) -> Trajectory:
    """A ``Trajectory`` for a baseline item, so CodecLM's row builders fit it.

    A baseline has no metadata: use case, skills and metadata id stay empty
    and ``seed_ids`` says where the item came from.
    """
    return Trajectory(item_id, Metadata("", "", (), tuple(seed_ids)), basic, list(actions))


def pair_row(traj: Trajectory, instruction: str, response: str, iteration: int) -> dict[str, Any]:
    """The kept.jsonl row: the strong model's answer, no judge, no gap."""
    traj.attempts.append(Attempt(iteration, instruction, response, "", None, None, None, None))
    return kept_row(traj, "strong")


def evidence(traj: Trajectory, instruction: str, **details: Any) -> dict[str, Any]:
    """Details for a rejected row: CodecLM's fields plus the baseline's own."""
    return {**trajectory_details(traj), "instruction": instruction, **details}


def reject(traj: Trajectory, reason: str, stage: str, instruction: str, **details: Any) -> dict[str, Any]:
    """The rejected.jsonl row for a baseline instruction the method turned down."""
    return rejected_row(
        "instruction", traj.id, "rejected", reason, stage, **evidence(traj, instruction, **details)
    )


def new_counts(n_seeds: int, quota: int, reasons: tuple[str, ...]) -> dict[str, Any]:
    """The counts both baselines start from (no ``metadata`` section)."""
    return {
        "seeds": {"total": n_seeds},
        "instructions": {
            "planned": quota,
            "generated": 0,
            "kept": 0,
            "kept_strong": 0,
            "dropped": 0,
            "failed": 0,
            "duplicates": 0,
            "shortfall": 0,
        },
        "dropped_by_reason": dict.fromkeys(reasons, 0),
    }


def drop(counts: dict[str, Any], reason: str) -> None:
    """Count one instruction dropped for ``reason``."""
    counts["instructions"]["dropped"] += 1
    counts["dropped_by_reason"][reason] += 1


def base_accounting(counts: dict[str, Any], n_seeds: int) -> dict[str, bool]:
    """The checks every baseline's counts must pass.

    Every generated instruction ends kept, dropped (with a counted reason),
    failed or duplicate exactly once, and the quota is never exceeded: kept
    plus shortfall is the quota.
    """
    i = counts["instructions"]
    return {
        "seeds": counts["seeds"]["total"] == n_seeds,
        "instructions": i["kept"] + i["dropped"] + i["failed"] + i["duplicates"] == i["generated"],
        "reasons": sum(counts["dropped_by_reason"].values()) == i["dropped"],
        "quota": i["kept"] <= i["planned"] and i["kept"] + i["shortfall"] == i["planned"],
    }


def ticked(tick, fn, *args):
    """``fn(*args)``, then advance the progress bar (even on an error)."""
    try:
        return fn(*args)
    finally:
        tick()


def seed_order(seeds) -> dict[str, int]:
    """Seed id -> position, to list lineages in the seed file's order."""
    return {seed.id: n for n, seed in enumerate(seeds)}


class Baseline(dspy.Module):
    """What both baselines share: accounting and an in-memory ``forward``.

    Subclasses set ``STAGES``, implement ``configure`` and ``run``, and may
    add checks of their own counts in ``checks``.
    """

    STAGES: dict[str, tuple[str, ...]] = {}

    def checks(self, counts: dict[str, Any]) -> dict[str, bool]:
        """Method-specific accounting checks (none by default)."""
        return {}

    def accounting(self, counts: dict[str, Any], n_seeds: int) -> dict[str, Any]:
        """``balanced`` plus each check: every item ends once, the quota holds."""
        checks = {**base_accounting(counts, n_seeds), **self.checks(counts)}
        return {"balanced": all(checks.values()), **checks}

    def forward(self, rt, seeds, random_seed: int = 0, workers: int = 1) -> dspy.Prediction:
        """Run in memory: ``dspy.Prediction`` with ``kept``, ``rejected`` and ``counts``."""
        from codeclm_dspy.runner import MemorySink

        sink = MemorySink()
        counts = self.run(rt, seeds, sink, random_seed=random_seed, workers=workers)
        return dspy.Prediction(kept=sink.kept, rejected=sink.rejected, counts=counts)
