"""Capacity Recovery Ratio (CodecLM §5.3), with the interval the paper leaves out.

Every eval instruction is answered by the target and by the strong model,
and a pairwise judge scores both answers twice, once in each order. The
target *wins* only if it scores higher in both orders and *loses* only if
it scores lower in both; anything else (a split decision, or equal scores)
is a tie. CRR = (wins + ties) / total: "not worse than the strong model".

The paper reports CRR without an interval, yet one Vicuna item moves it by
1.25 points, so differences between methods need one. CRR is the mean of a
0/1 outcome per item, so a bootstrap resample of it is a binomial draw; the
percentile interval below is the bootstrap computed that way, exactly and
fast.

Items that could not be judged (the judge's answer did not parse, the strong
answer was no usable reference) are left out of CRR in the paper's reading;
``report`` also gives CRR with each of them counted as a loss, so many
failures cannot quietly flatter a result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

Verdict = Literal["win", "tie", "loss"]


def verdict(target_first: tuple[float, float], strong_first: tuple[float, float]) -> Verdict:
    """The target's verdict from both presentation orders.

    Args:
        target_first: (target score, strong score) with the target's answer shown first.
        strong_first: (target score, strong score) with the strong answer shown first.
    """
    orders = (target_first, strong_first)
    if all(t > s for t, s in orders):
        return "win"
    if all(t < s for t, s in orders):
        return "loss"
    return "tie"


@dataclass(frozen=True)
class CRRResult:
    """Wins, ties and losses of the target, CRR and its bootstrap interval."""

    wins: int
    ties: int
    losses: int
    crr: float
    ci_low: float
    ci_high: float
    confidence: float
    resamples: int

    @property
    def total(self) -> int:
        return self.wins + self.ties + self.losses

    def as_dict(self) -> dict:
        return {**asdict(self), "total": self.total}

    def __str__(self) -> str:
        level = round(self.confidence * 100)
        return (
            f"W/T/L {self.wins}/{self.ties}/{self.losses} of {self.total}: CRR {self.crr:.2%} "
            f"({level}% CI {self.ci_low:.2%} to {self.ci_high:.2%})"
        )


def crr(
    verdicts: Iterable[Verdict], *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> CRRResult:
    """CRR of a list of verdicts, with a percentile bootstrap interval.

    Raises:
        ValueError: no verdicts, or a value that is not win, tie or loss.
    """
    counts = Counter(verdicts)
    unknown = set(counts) - {"win", "tie", "loss"}
    if unknown:
        raise ValueError(f"verdicts must be win, tie or loss, not {sorted(map(str, unknown))}")
    n = sum(counts.values())
    if n == 0:
        raise ValueError("CRR of no comparisons is undefined")
    recovered = counts["win"] + counts["tie"]
    rate = recovered / n
    draws = np.random.default_rng(seed).binomial(n, rate, size=resamples) / n
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return CRRResult(
        counts["win"], counts["tie"], counts["loss"], rate, float(low), float(high), confidence, resamples
    )


@dataclass(frozen=True)
class CRRReport:
    """An evaluation's CRR two ways, and the items that could not be judged.

    Attributes:
        excluded: CRR over the judged items only (failures left out, as a
            judge error says nothing about the target); None if none was judged.
        as_losses: CRR with every failed item counted as a loss, the bound a
            sceptical reader wants when failures are many.
        failed_by_reason: failed items per reason (a gate's, parse_error, error).
        self_judged: which compared model ("strong" or "target") is also the
            judge; None for an independent judge.
    """

    excluded: CRRResult | None
    as_losses: CRRResult
    failed_by_reason: dict[str, int]
    self_judged: str | None = None

    @property
    def failed(self) -> int:
        return sum(self.failed_by_reason.values())

    def as_dict(self) -> dict:
        return {
            "result": self.excluded.as_dict() if self.excluded else None,
            "result_failures_as_losses": self.as_losses.as_dict(),
        }

    def __str__(self) -> str:
        excluded = str(self.excluded) if self.excluded else "no item could be judged"
        lines = [f"CRR, failures excluded:   {excluded}", f"CRR, failures as losses:  {self.as_losses}"]
        if self.self_judged:
            lines.append(
                f"self-judged: the judge is also the {self.self_judged} model and may favour its own answers"
            )
        return "\n".join(lines)


def report(
    verdicts: list[Verdict],
    failed_by_reason: dict[str, int],
    *,
    self_judged: str | None = None,
    confidence: float = 0.95,
) -> CRRReport:
    """CRR with failures excluded and counted as losses, each with its interval.

    Raises:
        ValueError: no verdicts and no failures (nothing was evaluated).
    """
    failed = sum(failed_by_reason.values())
    excluded = crr(verdicts, confidence=confidence) if verdicts else None
    as_losses = crr([*verdicts, *["loss"] * failed], confidence=confidence)
    return CRRReport(excluded, as_losses, dict(sorted(failed_by_reason.items())), self_judged)
