"""Encode: seed instruction -> metadata (one use case, a few skills)."""

from typing import Annotated

import dspy
from pydantic import Field

Skill = Annotated[str, Field(min_length=2, max_length=32)]


class EncodeInstruction(dspy.Signature):
    """Read a user instruction and describe what it is for, not what it says.

    Give the single use case it belongs to (a short task category such as
    "question answering", "code generation" or "creative writing") and at most
    three skills a language model needs to answer it well. Each skill is two or
    three words, names reusable expertise that would help with similar requests
    (for example "python scripting", "persuasive writing", "probability theory"), and never uses
    the words "skill" or "knowledge". Do not explain or answer the instruction.
    """

    instruction: str = dspy.InputField(desc="the instruction to analyse")
    use_case: str = dspy.OutputField(desc="the one task category the instruction belongs to, a few words")
    skills: Annotated[list[Skill], Field(min_length=1, max_length=3)] = dspy.OutputField(
        desc="one to three transferable skills, two or three words each"
    )
