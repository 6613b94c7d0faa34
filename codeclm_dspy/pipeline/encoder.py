"""Encode: the strong LLM turns a seed instruction into metadata (CodecLM §4.1)."""

from __future__ import annotations

import dspy

from codeclm_dspy.engine.runtime import AsyncStep, Runtime
from codeclm_dspy.steps import ENCODE
from signatures import EncodeInstruction

MAX_SKILLS = 3

# Our own demonstrations (the paper's encoder is few-shot too). Optimizers
# such as LabeledFewShot or BootstrapFewShot replace them.
DEMOS = [
    dspy.Example(
        instruction="Draft a polite email asking my landlord to fix the heating before winter.",
        use_case="email writing",
        skills=["formal correspondence", "persuasion"],
    ).with_inputs("instruction"),
    dspy.Example(
        instruction="Why does my recursive Fibonacci function in JavaScript slow down above n=40?",
        use_case="code debugging",
        skills=["javascript performance", "algorithm complexity", "recursive functions"],
    ).with_inputs("instruction"),
]


def clean_skills(skills: list[str], limit: int = MAX_SKILLS) -> tuple[str, ...]:
    """Trim, drop empties and case-insensitive repeats, keep at most ``limit``."""
    seen: dict[str, str] = {}
    for skill in skills:
        text = " ".join(str(skill).split()).strip(" .,;:-")
        if text and text.lower() not in seen:
            seen[text.lower()] = text
    return tuple(list(seen.values())[:limit])


class Encoder(AsyncStep):
    """Seed instruction -> (use case, skills)."""

    def __init__(self):
        super().__init__()
        self.encode = dspy.Predict(EncodeInstruction)
        self.encode.demos = list(DEMOS)

    async def aforward(self, rt: Runtime, instruction: str) -> tuple[str, tuple[str, ...]]:
        out = await rt.astructured(
            self.encode, ENCODE.name, ENCODE.role, check=_unusable, instruction=instruction
        )
        return _clean_use_case(out.use_case), clean_skills(out.skills)


def _clean_use_case(text: str) -> str:
    return " ".join(str(text).split()).strip(" .")


def _unusable(out: dspy.Prediction) -> str | None:
    if not _clean_use_case(out.use_case):
        return "empty use case"
    if not clean_skills(out.skills):
        return "no skills"
    return None
