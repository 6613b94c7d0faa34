"""Evol-Instruct baseline: rewrite an instruction, then check it changed.

Evol-Instruct (WizardLM, Xu et al. 2023) grows harder and more varied data
by rewriting instructions one operation at a time and eliminating rewrites
that failed. The wording here is our own; the operation texts live with the
baseline in ``evals/baselines/evol_instruct.py``.
"""

import dspy


class EvolveInstruction(dspy.Signature):
    """Rewrite a user instruction as the operation describes.

    The result must be a single instruction that a person could understand
    and answer, complete on its own: it must not mention the original
    instruction, this rewriting task or the operation, and must not be
    labelled as a new or changed version. Unless the operation asks for a
    brand-new instruction, keep the original intent and add no more than 10
    to 20 words. Return only the instruction.
    """

    instruction: str = dspy.InputField(desc="the instruction to start from")
    operation: str = dspy.InputField(desc="how to change it")
    evolved_instruction: str = dspy.OutputField(desc="the rewritten instruction, nothing else")


class SameInstruction(dspy.Signature):
    """Decide whether the second instruction adds nothing to the first.

    They are equivalent when they impose the same requirements and
    constraints and ask for the same depth and breadth of answer, even if the
    words differ. Any new requirement, constraint, input, reasoning step or
    topic makes them different.
    """

    first: str = dspy.InputField(desc="the original instruction")
    second: str = dspy.InputField(desc="the rewritten instruction")
    equivalent: bool = dspy.OutputField(desc="true if the second brings no new information")
