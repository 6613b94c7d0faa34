"""Self-Rubrics, part one: rubrics for difficulty and matching actions."""

import dspy
from pydantic import BaseModel, Field


class RubricAction(BaseModel):
    """One way to judge difficulty in a domain, and how to raise it."""

    rubric: str = Field(min_length=4, description="a difficulty criterion")
    action: str = Field(min_length=4, description="an edit that makes a request harder on it")


class WriteRubrics(dspy.Signature):
    """Act as a domain expert who grades how demanding requests are.

    For the given use case and skills, write criteria that tell a hard request
    from an easy one in this particular domain, each clear and specific rather
    than generic ("adds a SWOT analysis" beats "add more steps"). Pair every
    criterion with one concrete action that rewrites a request so it scores
    higher on that criterion. No explanations.
    """

    use_case: str = dspy.InputField()
    skills: list[str] = dspy.InputField()
    count: int = dspy.InputField(desc="how many rubric/action pairs to write")
    rubrics: list[RubricAction] = dspy.OutputField(desc="the rubric/action pairs")
