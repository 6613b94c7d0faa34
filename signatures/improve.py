"""Self-Rubrics, part two: apply one action to make an instruction harder."""

from typing import Annotated

import dspy
from pydantic import Field


class ImproveInstruction(dspy.Signature):
    """Rewrite a request so that it is more demanding, guided by one action.

    The rewritten request must stay sensible, self-consistent and answerable,
    keep the original intent, and carry out the spirit of the action without
    quoting its wording. Return only the new request.
    """

    instruction: str = dspy.InputField(desc="the request to make harder")
    action: str = dspy.InputField(desc="how to make it harder")
    improved_instruction: Annotated[str, Field(min_length=8)] = dspy.OutputField(
        desc="the rewritten, harder request"
    )
