"""The items that flow through a run, and the rows written for them.

Every item ends in exactly one of three states: kept (a row in kept.jsonl),
rejected with a reason, or failed with its error (both in rejected.jsonl).
The row builders here are the single place that decides those schemas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Seed:
    """One seed instruction from the user's file."""

    id: str
    instruction: str


@dataclass(frozen=True)
class Metadata:
    """A use case with the skills it calls for, and the seeds it came from."""

    id: str
    use_case: str
    skills: tuple[str, ...]
    seed_ids: tuple[str, ...]
    mixed: bool = False


@dataclass(frozen=True)
class RubricAction:
    """A difficulty rubric and the action that raises an instruction on it."""

    rubric: str
    action: str


@dataclass
class Attempt:
    """One Contrastive Filtering round of one instruction."""

    iteration: int
    instruction: str
    strong_response: str
    target_response: str
    judge_scores: dict[str, dict[str, int]]
    strong_score: float
    target_score: float
    gap: float
    # why each provider stopped writing ("stop", "length", ...): a kept answer
    # cut at max_tokens is refused by the quality gates
    strong_finish: str | None = None
    target_finish: str | None = None


@dataclass
class Trajectory:
    """An instruction's path through Self-Rubrics and Contrastive Filtering."""

    id: str
    metadata: Metadata
    basic_instruction: str
    actions: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    # rewrites refused before they were judged (a leaked prompt), as evidence
    rewrites: list[str] = field(default_factory=list)


def kept_row(traj: Trajectory, source: str) -> dict[str, Any]:
    """The kept.jsonl row for a trajectory whose last attempt passed the filter."""
    last = traj.attempts[-1]
    response = last.strong_response if source == "strong" else last.target_response
    return {
        "id": traj.id,
        "instruction": last.instruction,
        "response": response,
        "messages": [
            {"role": "user", "content": last.instruction},
            {"role": "assistant", "content": response},
        ],
        "source": source,
        "iteration": last.iteration,
        "gap": last.gap,
        "strong_score": last.strong_score,
        "target_score": last.target_score,
        "judge_scores": last.judge_scores,
        "use_case": traj.metadata.use_case,
        "skills": list(traj.metadata.skills),
        "actions": list(traj.actions),
        "basic_instruction": traj.basic_instruction,
        "metadata_id": traj.metadata.id,
        "seed_ids": list(traj.metadata.seed_ids),
    }


def rejected_row(
    kind: str,
    item_id: str,
    outcome: str,
    reason: str,
    stage: str,
    **details: Any,
) -> dict[str, Any]:
    """A rejected.jsonl row.

    Args:
        kind: "seed", "metadata" or "instruction".
        item_id: the item's id within its kind.
        outcome: "rejected" (a decision of the method) or "failed" (an error).
        reason: a short machine-readable reason, e.g. "within_threshold".
        stage: the pipeline step where the item stopped.
        **details: evidence: scores, the error message, the raw LM output.
    """
    return {"kind": kind, "id": item_id, "outcome": outcome, "reason": reason, "stage": stage, **details}


def trajectory_details(traj: Trajectory) -> dict[str, Any]:
    """Evidence for a rejected instruction: everything that was tried."""
    return {
        "instruction": traj.attempts[-1].instruction if traj.attempts else traj.basic_instruction,
        "basic_instruction": traj.basic_instruction,
        "use_case": traj.metadata.use_case,
        "skills": list(traj.metadata.skills),
        "actions": list(traj.actions),
        "seed_ids": list(traj.metadata.seed_ids),
        "attempts": [asdict(a) for a in traj.attempts],
        **({"refused_rewrites": list(traj.rewrites)} if traj.rewrites else {}),
    }


def metadata_details(meta: Metadata) -> dict[str, Any]:
    """A metadata's fields for a rejected row (and the id it had in the pool)."""
    return {
        "use_case": meta.use_case,
        "skills": list(meta.skills),
        "seed_ids": list(meta.seed_ids),
        "mixed": meta.mixed,
        "metadata_id": meta.id,
    }
