"""The cost funnel of a CodecLM run: what became of every seed, metadata and instruction.

The counts go into the manifest and the summary printed at the end, and
``accounting`` checks that they add up: every item is counted in exactly one
outcome, every instruction not kept under its reason, and the kept pairs plus
the reported shortfall are the ``num_instructions`` asked for.
"""

from __future__ import annotations

import threading
from dataclasses import InitVar, dataclass, field
from typing import Any

from codeclm_dspy.pipeline.counts import (
    CodecLMInstructions,
    Counts,
    Decode,
    Iteration,
    MetadataCounts,
    Seeds,
)
from codeclm_dspy.pipeline.records import Trajectory

# How an instruction's filter rounds can end (``Funnel.trajectory``).
ENDINGS = ("kept", "dropped", "rejected", "refused_rewrite", "failed")


@dataclass
class Funnel(Counts):
    """CodecLM's counts, per stage; safe to update from the filtering workers.

    The stages update the sections directly on the thread that runs them
    (``apmap`` hands results back before they are counted). Self-Rubrics and
    Contrastive Filtering count from inside the items (coroutines on the
    engine's loop; a caller on threads may do the same), through the methods
    below, which hold ``lock``.

    Args:
        max_iterations: T, the filter rounds an instruction may take (one row each).
        judged: False for the ablations without Contrastive Filtering: no rounds counted.
    """

    max_iterations: InitVar[int]
    judged: InitVar[bool] = True
    seeds: Seeds = field(init=False, default_factory=Seeds)
    metadata: MetadataCounts = field(init=False, default_factory=MetadataCounts)
    decode: Decode = field(init=False, default_factory=Decode)
    instructions: CodecLMInstructions = field(init=False, default_factory=CodecLMInstructions)
    # every instruction that was not kept, by reason (within_threshold,
    # duplicate, over_quota, max_overdraw, a quality gate's reason, parse_error, ...)
    not_kept_by_reason: dict[str, int] = field(init=False, default_factory=dict)
    iterations: list[Iteration] = field(init=False, default_factory=list)

    def __post_init__(self, max_iterations: int, judged: bool) -> None:
        self.lock = threading.Lock()
        self.judged = judged
        self.iterations = [Iteration(iteration=i) for i in range(1, max_iterations + 1)]

    def keep(self, source: str) -> None:
        """Count a kept pair; ``source`` is whose answer it keeps, "strong" or "target"."""
        with self.lock:
            self.instructions.kept += 1
            if source == "strong":
                self.instructions.kept_strong += 1
            else:
                self.instructions.kept_target += 1

    def duplicate(self) -> None:
        """Count a decoded instruction that repeats an earlier one."""
        with self.lock:
            self.instructions.duplicates += 1
            self._because("duplicate")

    def reject(self, reason: str) -> None:
        """Count an instruction a quality gate (or the decoder's own check) refused."""
        with self.lock:
            self.instructions.rejected += 1
            self._because(reason)

    def fail(self, reason: str) -> None:
        """Count an instruction whose calls failed ("parse_error" or "error")."""
        with self.lock:
            self.instructions.failed += 1
            self._because(reason)

    def drop(self, reason: str) -> None:
        """Count an instruction Contrastive Filtering dropped (its gap stayed within the threshold)."""
        with self.lock:
            self.instructions.dropped += 1
            self._because(reason)

    def left_over(self, reason: str) -> None:
        """Count a decoded instruction that was never filtered.

        Args:
            reason: "over_quota" (the quota was met before it was needed) or
                "max_overdraw" (the cap stopped the run with pairs missing).
        """
        with self.lock:
            if reason == "over_quota":
                self.instructions.over_quota += 1
            elif reason == "max_overdraw":
                self.instructions.max_overdraw += 1
            else:
                raise ValueError(f"unknown left-over reason {reason!r}")
            self._because(reason)

    def _because(self, reason: str) -> None:
        self.not_kept_by_reason[reason] = self.not_kept_by_reason.get(reason, 0) + 1

    def trajectory(self, traj: Trajectory, source: str | None, ending: str) -> None:
        """Count each filter round of a finished instruction.

        Args:
            source: "strong" or "target" when kept.
            ending: "kept", "dropped", "rejected" (the answer to keep was
                refused), "refused_rewrite" (a rewrite leaked prompt text) or
                "failed". Every round before the last sent the instruction
                back; a failure or a refused rewrite happens in the round
                after the last judged one, so all judged rounds count as sent
                back, and it is counted in that next round.
        """
        if ending not in ENDINGS:
            raise ValueError(f"unknown ending {ending!r}; one of {', '.join(ENDINGS)}")
        if not self.judged:
            return  # an ablation without Contrastive Filtering: no filter rounds to count
        with self.lock:
            rows = self.iterations
            last = len(traj.attempts)
            # a refused answer was judged in the last round; a refused rewrite
            # or a failure ended the round after it
            ended_in_last = ending in ("kept", "dropped", "rejected")
            for attempt in traj.attempts:
                rows[attempt.iteration - 1].judged += 1
            for attempt in traj.attempts[:-1] if ended_in_last else traj.attempts:
                rows[attempt.iteration - 1].sent_back += 1
            at = rows[last - 1] if ended_in_last else rows[min(last, len(rows) - 1)]
            if ending == "kept" and source == "strong":
                at.kept_strong += 1
            elif ending == "kept":
                at.kept_target += 1
            elif ending == "dropped":
                at.dropped += 1
            elif ending in ("rejected", "refused_rewrite"):
                at.rejected += 1
            else:
                at.failed += 1

    def not_kept_reasons(self) -> dict[str, int]:
        with self.lock:
            return dict(self.not_kept_by_reason)

    def checks(self, n_seeds: int) -> dict[str, bool]:
        """Seeds, metadata and instructions each end once; every instruction not kept has its reason."""
        with self.lock:
            return {
                "seeds": self.seeds.balanced(n_seeds),
                "metadata": self.metadata.balanced(self.seeds),
                **self.instructions.checks(),
                "reasons": sum(self.not_kept_by_reason.values()) == self.instructions.not_kept(),
            }

    def to_manifest(self) -> dict[str, Any]:
        with self.lock:
            return super().to_manifest()
