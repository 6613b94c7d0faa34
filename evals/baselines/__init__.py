"""The generators CodecLM is compared with: Self-Instruct and Evol-Instruct.

Each is a ``dspy.Module`` with CodecLM's generator surface (see
``codeclm_dspy.pipeline.methods``), so a comparison holds everything else constant:
the same LMs through the same call engine, the same budget, journal and
resume, and the same run directory, whose kept rows have CodecLM's schema.
The helpers here are what both baselines share, among them the quality
gates (``codeclm_dspy.pipeline.quality``): a baseline keeps no pair CodecLM's gates
would refuse, so a comparison is between usable training data on both sides.

``num_instructions`` means kept pairs for every method. A baseline that
cannot reach it says so: ``counts.instructions.shortfall`` is the quota
minus what was kept and ``counts.instructions.shortfall_reason`` says which
cap stopped it (None when the quota was met). Each baseline's counts are
typed (``evals/baselines/counts.py``) and check that they add up.
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
from evals.baselines.counts import BaselineCounts

# Calls that must be distinct requests (the k-th brainstorm, the r-th attempt
# to evolve one instruction) start at rollout k * ROLLOUT_STRIDE, so their
# parse retries never collide with the next one's first attempt. A fixed
# stride, unlike one derived from engine.parse_retries, keeps the requests of
# a resumed run the same when only the engine settings changed.
ROLLOUT_STRIDE = 16
# Why the quality gates refuse a strong answer (they may also say prompt_leak).
ANSWER_REASONS = ("empty_response", "truncated_response", "refusal", "echoed_instruction", "secret")


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
    counts: BaselineCounts, sink, traj: Trajectory, instruction: str, response: str, iteration: int
) -> None:
    """Count a kept pair and write its kept.jsonl row: the strong model's answer, no judge, no gap."""
    counts.keep()
    traj.attempts.append(Attempt(iteration, instruction, response, "", None, None, None, None))
    sink.keep(kept_row(traj, "strong"), trajectory_details(traj))


def evidence(traj: Trajectory, instruction: str, **details: Any) -> dict[str, Any]:
    """Details for a rejected row: CodecLM's fields plus the baseline's own."""
    return {**trajectory_details(traj), "instruction": instruction, **details}


def reject(traj: Trajectory, reason: str, stage: str, instruction: str, **details: Any) -> dict[str, Any]:
    """The rejected.jsonl row for a baseline instruction the method turned down."""
    return rejected_row(
        "instruction", traj.id, "rejected", reason, stage, **evidence(traj, instruction, **details)
    )


def turn_down(
    counts: BaselineCounts, sink, traj: Trajectory, reason: str, stage: str, instruction: str, **details: Any
) -> None:
    """Count an instruction the method turned down (a duplicate, or dropped for ``reason``) and record it."""
    if reason == "duplicate":
        counts.instructions.duplicates += 1
    else:
        counts.drop(reason)
    sink.reject(reject(traj, reason, stage, instruction, **details))


def refused(
    counts: BaselineCounts,
    sink,
    traj: Trajectory,
    problem: Problem,
    stage: str,
    instruction: str,
    **details: Any,
) -> None:
    """``turn_down`` for what a quality gate refused: its reason, and its detail as ``gate_detail``."""
    turn_down(counts, sink, traj, problem.reason, stage, instruction, gate_detail=problem.detail, **details)


def answer_problem(gates: Gates, answer: Answer, *, instruction: str | None = None) -> Problem | None:
    """Why the strong model's answer may not be kept (None: it may).

    The gates see the whole ``Answer``, so one cut at ``max_tokens`` is
    refused as truncated, and the ``instruction`` it answers, when given, so
    an answer that only repeats it is refused. An empty answer is never a
    training pair, even with the empty-response gate turned off: neither
    method ever kept one.
    """
    if problem := gates.answer(answer, instruction=instruction):
        return problem
    return None if answer.text.strip() else Problem("empty_response", "the answer is empty")


def seed_order(seeds) -> dict[str, int]:
    """Seed id -> position, to list lineages in the seed file's order."""
    return {seed.id: n for n, seed in enumerate(seeds)}


class Baseline(dspy.Module):
    """What the baselines share: gates and an in-memory ``forward``.

    Subclasses set ``STAGES`` (and ``PROMPT_TEXTS``: prompt text sent as an
    input rather than in a signature), and implement ``configure`` (calling
    ``configure_quality``) and ``run``, which returns the method's own
    ``Counts`` (``evals/baselines/counts.py``).
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

    def forward(self, rt, seeds, random_seed: int = 0, workers: int = 1) -> dspy.Prediction:
        """Run in memory: ``dspy.Prediction`` with ``kept``, ``rejected`` and ``counts`` (the method's ``Counts``)."""
        from codeclm_dspy.pipeline.sinks import MemorySink

        sink = MemorySink()
        counts = self.run(rt, seeds, sink, random_seed=random_seed, workers=workers)
        return dspy.Prediction(kept=sink.kept, rejected=sink.rejected, counts=counts)
