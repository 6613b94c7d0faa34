"""The independent evaluator behind CRR, and the check that it is independent (CodecLM §5.3, A.5).

The paper judges its targets with a separate model at temperature 0 and
its own final-evaluation prompt (``signatures.evaluate``, Fig. 12), in both
presentation orders. A judge that also answered grades its own work, so
``self_judged_check`` refuses it unless the user asked for it.

Quality gates decide what can be measured: a strong answer that is empty,
cut off, a refusal or leaked prompt text is no reference, so its item fails
with that reason; a target answer failing a gate is still judged (it is what
the target does) and its gate reason is kept in the verdict row.
"""

from __future__ import annotations

from typing import Any

import dspy

from codeclm_dspy.config import Config
from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.errors import CodecLMError
from codeclm_dspy.pipeline.quality import Gates
from codeclm_dspy.pipeline.records import rejected_row
from evals.benchmarks import Item
from evals.crr import verdict
from signatures.evaluate import EvaluatePair


class SelfJudgedError(CodecLMError):
    """The evaluator is one of the two models it compares, and that was not asked for."""

    exit_code = 2


class Evaluator(dspy.Module):
    """The final evaluation judge: both answers scored in both orders.

    A module (not a bare predictor) so a compiled or loaded evaluator can
    stand in for this one; its state is part of the evaluation's identity.
    """

    def __init__(self):
        super().__init__()
        self.evaluate = dspy.Predict(EvaluatePair)

    def forward(self, rt: Runtime, instruction: str, strong: str, target: str) -> dict[str, dict[str, Any]]:
        """Scores and explanation for each order, keyed by which answer came first."""
        first, second = rt.both(
            lambda: rt.structured(
                self.evaluate, "evaluate", "judge", instruction=instruction, answer_1=strong, answer_2=target
            ),
            lambda: rt.structured(
                self.evaluate, "evaluate", "judge", instruction=instruction, answer_1=target, answer_2=strong
            ),
        )
        return {
            "strong_first": {
                "strong": int(first.score_1),
                "target": int(first.score_2),
                "explanation": first.explanation,
            },
            "target_first": {
                "strong": int(second.score_2),
                "target": int(second.score_1),
                "explanation": second.explanation,
            },
        }


def judge_item(rt: Runtime, evaluator: dspy.Module, gates: Gates, item: Item) -> tuple[str, dict[str, Any]]:
    """``("judged", verdict row)``, or ``("failed", row)`` when the strong answer fails a gate."""
    strong, target = rt.both(
        lambda: rt.plain("strong", "respond_strong", item.text),
        lambda: rt.plain("target", "respond_target", item.text),
    )
    answers = {"instruction": item.text, "strong_response": strong.text, "target_response": target.text}
    problem = gates.answer(strong, instruction=item.text)
    if problem is not None:  # no reference to measure recovery against
        return "failed", rejected_row(
            "eval", item.id, "failed", problem.reason, "strong_answer", error=problem.detail, **answers
        )
    gate = gates.answer(target, instruction=item.text)
    scores = evaluator(rt, item.text, strong.text, target.text)
    tf, sf = scores["target_first"], scores["strong_first"]
    return "judged", {
        "id": item.id,
        "category": item.category,
        **answers,
        "target_gate": {"reason": gate.reason, "detail": gate.detail} if gate else None,
        "judge_scores": {k: {"target": v["target"], "strong": v["strong"]} for k, v in scores.items()},
        "explanations": {k: v["explanation"] for k, v in scores.items()},
        "verdict": verdict((tf["target"], tf["strong"]), (sf["target"], sf["strong"])),
    }


def self_judged_check(config: Config, allowed: bool) -> str | None:
    """Which answering role the judge is (None if independent); refuse unless ``allowed``.

    Raises:
        SelfJudgedError: the judge is the strong or target model and ``allowed`` is False.
    """
    same = config.models.self_judged_role()
    if same is None:
        return None
    judge = config.models.judge_role()
    if not allowed:
        raise SelfJudgedError(
            f"the judge ({judge.model}) is also the {same} model, so it would grade its own answers; set "
            "models.judge to another model, or pass --self-judged to measure anyway (the result says so)"
        )
    return same
