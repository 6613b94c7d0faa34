"""Self-Rubrics (CodecLM §4.2): metadata-specific ways to make instructions harder.

Once per metadata the strong LLM writes K rubrics with one action each
(``RubricWriter``). Each improvement samples one action uniformly at random,
with replacement, and rewrites the *current* instruction (``Improver``), so
improvements accumulate across iterations.
"""

from __future__ import annotations

import random

import dspy

from codeclm_dspy.engine.runtime import AsyncStep, Runtime
from codeclm_dspy.pipeline.records import Metadata, RubricAction
from codeclm_dspy.pipeline.text import looks_like_instruction
from codeclm_dspy.steps import IMPROVE, RUBRICS
from signatures import ImproveInstruction, WriteRubrics


class RubricWriter(AsyncStep):
    """Metadata -> up to K (rubric, action) pairs."""

    def __init__(self):
        super().__init__()
        self.write = dspy.Predict(WriteRubrics)

    async def aforward(self, rt: Runtime, meta: Metadata, count: int) -> list[RubricAction]:
        out = await rt.astructured(
            self.write,
            RUBRICS.name,
            RUBRICS.role,
            check=lambda o: None if _pairs(o) else "no usable actions",
            use_case=meta.use_case,
            skills=list(meta.skills),
            count=count,
        )
        return _pairs(out)[:count]


def _pairs(out: dspy.Prediction) -> list[RubricAction]:
    """Distinct, non-empty (rubric, action) pairs in the model's order."""
    pairs: dict[str, RubricAction] = {}
    for item in out.rubrics:
        action = " ".join(item.action.split())
        if action and action.lower() not in pairs:
            pairs[action.lower()] = RubricAction(" ".join(item.rubric.split()), action)
    return list(pairs.values())


def sample_action(actions: list[RubricAction], rng: random.Random) -> str:
    """One action, uniformly at random (the paper samples one per iteration)."""
    return rng.choice(actions).action


class Improver(AsyncStep):
    """Instruction + action -> a harder instruction."""

    def __init__(self):
        super().__init__()
        self.improve = dspy.Predict(ImproveInstruction)

    async def aforward(self, rt: Runtime, instruction: str, action: str, rollout: int = 0) -> str:
        """The rewritten instruction; ``rollout`` > 0 asks for a fresh sample of the same rewrite."""
        out = await rt.astructured(
            self.improve,
            IMPROVE.name,
            IMPROVE.role,
            rollout=rollout,
            check=lambda o: (
                None if looks_like_instruction(str(o.improved_instruction)) else "not an instruction"
            ),
            instruction=instruction,
            action=action,
        )
        return str(out.improved_instruction).strip()
