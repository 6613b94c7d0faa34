"""Contrastive Filtering (CodecLM §4.3): keep what the target cannot yet do.

The strong and the target LLM both answer the instruction; a judge scores the
two answers 1-10 twice, once in each order, and the orders are averaged to
cancel position bias. The gap G = score(strong) - score(target) decides:
|G| > threshold keeps the pair (the strong answer when G > 0, the target's
when G < 0, an implicit regulariser); otherwise the instruction goes back to
Self-Rubrics for another round.
"""

from __future__ import annotations

import dspy

from codeclm_dspy.engine.runtime import AsyncStep, Runtime
from codeclm_dspy.pipeline.records import Attempt
from codeclm_dspy.steps import JUDGE, RESPOND_STRONG, RESPOND_TARGET
from signatures import JudgePair


def average_scores(judge_scores: dict[str, dict[str, int]]) -> tuple[float, float]:
    """Mean (strong, target) score over both presentation orders."""
    orders = judge_scores.values()
    strong = sum(o["strong"] for o in orders) / len(judge_scores)
    target = sum(o["target"] for o in orders) / len(judge_scores)
    return strong, target


def decide(gap: float, threshold: float) -> str | None:
    """Whose answer to keep: "strong", "target", or None (send back).

    The boundary is strict, as in the paper: |G| == threshold is not kept.
    """
    if abs(gap) > threshold:
        return "strong" if gap > 0 else "target"
    return None


class ContrastiveFilter(AsyncStep):
    """Answer with both models, judge both orders, and decide."""

    def __init__(self):
        super().__init__()
        self.judge = dspy.Predict(JudgePair)

    async def score(self, rt: Runtime, instruction: str, strong: str, target: str) -> dict:
        """The judge's scores for both orders, keyed by which answer came first."""
        first, second = await rt.aboth(
            rt.astructured(
                self.judge, JUDGE.name, JUDGE.role, instruction=instruction, answer_1=strong, answer_2=target
            ),
            rt.astructured(
                self.judge, JUDGE.name, JUDGE.role, instruction=instruction, answer_1=target, answer_2=strong
            ),
        )
        return {
            "strong_first": {"strong": int(first.score_1), "target": int(first.score_2)},
            "target_first": {"strong": int(second.score_2), "target": int(second.score_1)},
        }

    async def aforward(
        self, rt: Runtime, instruction: str, iteration: int, threshold: float
    ) -> tuple[Attempt, str | None]:
        strong, target = await rt.aboth(
            rt.aplain(RESPOND_STRONG.role, RESPOND_STRONG.name, instruction),
            rt.aplain(RESPOND_TARGET.role, RESPOND_TARGET.name, instruction),
        )
        scores = await self.score(rt, instruction, strong.text, target.text)
        strong_score, target_score = average_scores(scores)
        gap = strong_score - target_score
        attempt = Attempt(
            iteration=iteration,
            instruction=instruction,
            strong_response=strong.text,
            target_response=target.text,
            judge_scores=scores,
            strong_score=strong_score,
            target_score=target_score,
            gap=gap,
            strong_finish=strong.finish_reason,
            target_finish=target.finish_reason,
        )
        return attempt, decide(gap, threshold)
