"""Decode: metadata -> basic instructions (zero-shot, no demonstrations)."""

from typing import Annotated

import dspy
from pydantic import Field

Instruction = Annotated[str, Field(min_length=8)]


class DecodeInstructions(dspy.Signature):
    """Write new requests that a real person might send to an AI assistant.

    Every request must fit the given use case and need the given skills to
    answer, must be sensible and answerable, and must differ from the others in
    topic, wording and form. Write only the requests themselves: no answers,
    no numbering, no commentary.
    """

    use_case: str = dspy.InputField(desc="what the requests are for")
    skills: list[str] = dspy.InputField(desc="what answering them must draw on")
    count: int = dspy.InputField(desc="how many requests to write")
    new_instructions: list[Instruction] = dspy.OutputField(
        desc="the requests, each a complete standalone instruction"
    )
