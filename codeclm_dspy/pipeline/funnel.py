"""The cost funnel of a CodecLM run: what became of every seed, metadata and instruction.

The counts go into the manifest and the summary printed at the end, and
``accounting`` checks that they add up: every item is counted in exactly one
outcome, every rejection under its reason, and the kept pairs plus the
reported shortfall are the ``num_instructions`` asked for.
"""

from __future__ import annotations

import threading
from typing import Any

from codeclm_dspy.pipeline.records import Trajectory


class Funnel:
    """Thread-safe counters for the manifest's per-stage funnel."""

    def __init__(self, max_iterations: int, judged: bool = True):
        self._lock = threading.Lock()
        self.judged = judged  # False for the ablations without Contrastive Filtering
        self.data: dict[str, Any] = {
            "seeds": {"total": 0, "encoded": 0, "rejected": 0, "failed": 0},
            "metadata": {
                "given": 0,
                "given_rejected": 0,
                "from_seeds": 0,
                "merged": 0,
                "over_pool_size": 0,
                "mixed_candidates": 0,
                "implausible": 0,
                "check_failed": 0,
                "pool": 0,
                "pool_shortfall": 0,
                "unused": 0,
                "rubrics_failed": 0,
            },
            "decode": {"rounds": 0, "calls": 0, "failed": 0},
            "instructions": {
                "planned": 0,
                "generated": 0,
                "duplicates": 0,
                "rejected": 0,
                "failed": 0,
                "kept": 0,
                "kept_strong": 0,
                "kept_target": 0,
                "dropped": 0,
                "over_quota": 0,
                "shortfall": 0,
                "shortfall_reason": None,
            },
            # every instruction that was not kept, by reason (within_threshold,
            # duplicate, over_quota, a quality gate's reason, parse_error, ...)
            "not_kept_by_reason": {},
            "iterations": [
                {
                    "iteration": i,
                    "judged": 0,
                    "kept_strong": 0,
                    "kept_target": 0,
                    "sent_back": 0,
                    "dropped": 0,
                    "rejected": 0,
                    "failed": 0,
                }
                for i in range(1, max_iterations + 1)
            ],
        }

    def add(self, section: str, key: str, n: int = 1) -> None:
        with self._lock:
            self.data[section][key] += n

    def set(self, section: str, key: str, value: Any) -> None:
        with self._lock:
            self.data[section][key] = value

    def get(self, section: str, key: str) -> Any:
        with self._lock:
            return self.data[section][key]

    def instruction_out(self, outcome: str, reason: str) -> None:
        """Count one instruction that was not kept: ``outcome`` is the counter, ``reason`` why."""
        with self._lock:
            self.data["instructions"][outcome] += 1
            by = self.data["not_kept_by_reason"]
            by[reason] = by.get(reason, 0) + 1

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
        if not self.judged:
            return  # an ablation without Contrastive Filtering: no filter rounds to count
        with self._lock:
            rows = self.data["iterations"]
            last = len(traj.attempts)
            # a refused answer was judged in the last round; a refused rewrite
            # or a failure ended the round after it
            ended_in_last = ending in ("kept", "dropped", "rejected")
            for attempt in traj.attempts:
                rows[attempt.iteration - 1]["judged"] += 1
            for attempt in traj.attempts[:-1] if ended_in_last else traj.attempts:
                rows[attempt.iteration - 1]["sent_back"] += 1
            at = rows[last - 1] if ended_in_last else rows[min(last, len(rows) - 1)]
            at[f"kept_{source}" if ending == "kept" else ending.replace("refused_rewrite", "rejected")] += 1


def accounting(counts: dict[str, Any], n_seeds: int) -> dict[str, Any]:
    """Check that every seed, metadata and instruction is accounted for once."""
    s, m, i = counts["seeds"], counts["metadata"], counts["instructions"]
    not_kept = ("dropped", "rejected", "failed", "duplicates", "over_quota")
    checks = {
        "seeds": s["encoded"] + s["rejected"] + s["failed"] == n_seeds == s["total"],
        "metadata": m["from_seeds"] + m["merged"] + m["over_pool_size"] == s["encoded"] + m["given"]
        and m["pool"] + m["implausible"] + m["check_failed"] == m["from_seeds"] + m["mixed_candidates"],
        "instructions": i["kept"] + sum(i[k] for k in not_kept) == i["generated"],
        "reasons": sum(counts["not_kept_by_reason"].values()) == sum(i[k] for k in not_kept),
        "quota": i["kept"] + i["shortfall"] == i["planned"] and i["kept"] <= i["planned"],
    }
    return {"balanced": all(checks.values()), **checks}
