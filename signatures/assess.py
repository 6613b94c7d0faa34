"""Questions the compile metrics put to the judge; never compiled themselves.

A metric that an optimizer could rewrite would grade its own homework, so
these signatures stay fixed while the steps they assess are tuned.
"""

import dspy


class CheckAdherence(dspy.Signature):
    """Decide whether a request fits a description of the requests wanted.

    The description gives a use case and the skills answering should take.
    Say whether the request belongs to that use case, and whether answering
    it well would really exercise those skills.
    """

    use_case: str = dspy.InputField(desc="the kind of request wanted")
    skills: list[str] = dspy.InputField(desc="what answering should take")
    instruction: str = dspy.InputField(desc="the request to check")
    fits_use_case: bool = dspy.OutputField(desc="true if the request belongs to the use case")
    uses_skills: bool = dspy.OutputField(desc="true if answering it well needs the skills")


class CompareDifficulty(dspy.Signature):
    """Compare a rewritten request with the original it came from.

    Say whether the rewrite is harder to answer well than the original,
    whether it still belongs to the same use case, and whether it still
    calls on the same skills.
    """

    use_case: str = dspy.InputField(desc="the use case of the original request")
    skills: list[str] = dspy.InputField(desc="the skills the original request calls on")
    original: str = dspy.InputField(desc="the original request")
    rewritten: str = dspy.InputField(desc="the rewritten request")
    harder: bool = dspy.OutputField(desc="true if the rewrite is more demanding than the original")
    same_use_case: bool = dspy.OutputField(desc="true if it still belongs to the use case")
    same_skills: bool = dspy.OutputField(desc="true if it still calls on the skills")
