"""The generators CodecLM is compared with: Self-Instruct and Evol-Instruct.

Each is a ``dspy.Module`` with CodecLM's generator surface (see
``codeclm_dspy.pipeline.methods``), so a comparison holds everything else constant:
the same LMs through the same call engine, the same budget, journal and
resume, and the same run directory, whose kept rows have CodecLM's schema.
The helpers here are what both baselines share, among them the quality
gates (``codeclm_dspy.pipeline.quality``): a baseline keeps no pair CodecLM's gates
would refuse, so a comparison is between usable training data on both sides.

``num_instructions`` means kept pairs for every method. A baseline that
cannot reach it says so: ``counts["instructions"]["shortfall"]`` is the
quota minus what was kept and ``counts["shortfall_reason"]`` says which cap
stopped it (None when the quota was met).
"""

from __future__ import annotations

from typing import Any, ClassVar

import dspy

from codeclm_dspy.pipeline.quality import Answer, Gates, Problem, QualityConfig
from codeclm_dspy.pipeline.records import (
    Attempt,
    Metadata,
    Trajectory,
    kept_row,
    rejected_row,
    trajectory_details,
)

# Calls that must be distinct requests (the k-th brainstorm, the r-th attempt
# to evolve one instruction) start at rollout k * ROLLOUT_STRIDE, so their
# parse retries never collide with the next one's first attempt. A fixed
# stride, unlike one derived from engine.parse_retries, keeps the requests of
# a resumed run the same when only the engine settings changed.
ROLLOUT_STRIDE = 16
# Why the quality gates refuse a strong answer (they may also say prompt_leak).
ANSWER_REASONS = ("empty_response", "truncated_response", "refusal")


def first_rollout(rt, k: int) -> int:
    """The rollout number of the ``k``-th call that must be a distinct request."""
    return k * max(ROLLOUT_STRIDE, rt.parse_retries + 1)


def lineage(item_id: str, basic: str, actions: list[str], seed_ids: list[str]) -> Trajectory:
    """A ``Trajectory`` for a baseline item, so CodecLM's row builders fit it.

    A baseline has no metadata: use case, skills and metadata id stay empty
    and ``seed_ids`` says where the item came from.
    """
    return Trajectory(item_id, Metadata("", "", (), tuple(seed_ids)), basic, list(actions))


def keep_pair(
    counts: dict[str, Any], sink, traj: Trajectory, instruction: str, response: str, iteration: int
) -> None:
    """Count a kept pair and write its kept.jsonl row: the strong model's answer, no judge, no gap."""
    counts["instructions"]["kept"] += 1
    counts["instructions"]["kept_strong"] += 1
    traj.attempts.append(Attempt(iteration, instruction, response, "", None, None, None, None))
    sink.keep(kept_row(traj, "strong"))


def evidence(traj: Trajectory, instruction: str, **details: Any) -> dict[str, Any]:
    """Details for a rejected row: CodecLM's fields plus the baseline's own."""
    return {**trajectory_details(traj), "instruction": instruction, **details}


def reject(traj: Trajectory, reason: str, stage: str, instruction: str, **details: Any) -> dict[str, Any]:
    """The rejected.jsonl row for a baseline instruction the method turned down."""
    return rejected_row(
        "instruction", traj.id, "rejected", reason, stage, **evidence(traj, instruction, **details)
    )


def turn_down(
    counts: dict[str, Any], sink, traj: Trajectory, reason: str, stage: str, instruction: str, **details: Any
) -> None:
    """Count an instruction the method turned down (a duplicate, or dropped for ``reason``) and record it."""
    if reason == "duplicate":
        counts["instructions"]["duplicates"] += 1
    else:
        drop(counts, reason)
    sink.reject(reject(traj, reason, stage, instruction, **details))


def refused(
    counts: dict[str, Any],
    sink,
    traj: Trajectory,
    problem: Problem,
    stage: str,
    instruction: str,
    **details: Any,
) -> None:
    """``turn_down`` for what a quality gate refused: its reason, and its detail as ``gate_detail``."""
    turn_down(counts, sink, traj, problem.reason, stage, instruction, gate_detail=problem.detail, **details)


def answer_problem(gates: Gates, answer: Answer) -> Problem | None:
    """Why the strong model's answer may not be kept (None: it may).

    The gates see the whole ``Answer``, so one cut at ``max_tokens`` is
    refused as truncated. An empty answer is never a training pair, even with
    the empty-response gate turned off: neither method ever kept one.
    """
    if problem := gates.answer(answer):
        return problem
    return None if answer.text.strip() else Problem("empty_response", "the answer is empty")


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
        "shortfall_reason": None,
    }


def drop(counts: dict[str, Any], reason: str) -> None:
    """Count one instruction dropped for ``reason``."""
    counts["instructions"]["dropped"] += 1
    counts["dropped_by_reason"][reason] += 1


def settle_quota(counts: dict[str, Any], reason: str) -> None:
    """Record the shortfall against the quota and, if there is one, ``reason``."""
    i = counts["instructions"]
    i["shortfall"] = i["planned"] - i["kept"]
    counts["shortfall_reason"] = reason if i["shortfall"] else None


def base_accounting(counts: dict[str, Any], n_seeds: int) -> dict[str, bool]:
    """The checks every baseline's counts must pass.

    Every generated instruction ends kept, dropped (with a counted reason),
    failed or duplicate exactly once, and the quota is never exceeded: kept
    plus shortfall is the quota, and a shortfall always has its reason.
    """
    i = counts["instructions"]
    return {
        "seeds": counts["seeds"]["total"] == n_seeds,
        "instructions": i["kept"] + i["dropped"] + i["failed"] + i["duplicates"] == i["generated"],
        "reasons": sum(counts["dropped_by_reason"].values()) == i["dropped"],
        "quota": i["kept"] <= i["planned"] and i["kept"] + i["shortfall"] == i["planned"],
        "shortfall_reason": (i["shortfall"] == 0) == (counts.get("shortfall_reason") is None),
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
    """What both baselines share: gates, accounting and an in-memory ``forward``.

    Subclasses set ``STAGES`` (and ``PROMPT_TEXTS``: prompt text sent as an
    input rather than in a signature), implement ``configure`` (calling
    ``configure_quality``) and ``run``, and may add checks of their own
    counts in ``checks``.
    """

    STAGES: ClassVar[dict[str, tuple[str, ...]]] = {}
    PROMPT_TEXTS: tuple[str, ...] = ()

    def __init__(self):
        super().__init__()
        self.quality = QualityConfig()

    def configure_quality(self, config) -> None:
        """Take the ``quality:`` section the gates of every run follow."""
        self.quality = config.quality

    def gates(self) -> Gates:
        """One run's gates: they know this generator's prompts and ``PROMPT_TEXTS``."""
        return Gates.for_modules(self.quality, self, extra_texts=self.PROMPT_TEXTS)

    def checks(self, counts: dict[str, Any]) -> dict[str, bool]:
        """Method-specific accounting checks (none by default)."""
        return {}

    def accounting(self, counts: dict[str, Any], n_seeds: int) -> dict[str, Any]:
        """``balanced`` plus each check: every item ends once, the quota holds."""
        checks = {**base_accounting(counts, n_seeds), **self.checks(counts)}
        return {"balanced": all(checks.values()), **checks}

    def forward(self, rt, seeds, random_seed: int = 0, workers: int = 1) -> dspy.Prediction:
        """Run in memory: ``dspy.Prediction`` with ``kept``, ``rejected`` and ``counts``."""
        from codeclm_dspy.pipeline.sinks import MemorySink

        sink = MemorySink()
        counts = self.run(rt, seeds, sink, random_seed=random_seed, workers=workers)
        return dspy.Prediction(kept=sink.kept, rejected=sink.rejected, counts=counts)
