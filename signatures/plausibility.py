"""Plausibility check for mixed-and-matched metadata.

The paper checks the recombined (use case, skills) pairs by hand; this
signature lets the strong model do that check instead.
"""

import dspy


class CheckMetadata(dspy.Signature):
    """Decide whether a use case and a set of skills make sense together.

    Say yes when a realistic user request of this use case could call for all
    of these skills at once; say no when the combination is contradictory or
    absurd (for example, a poem that requires database indexing is fine if it
    is whimsical, but tax filing that requires dribbling a basketball is not).
    """

    use_case: str = dspy.InputField()
    skills: list[str] = dspy.InputField()
    plausible: bool = dspy.OutputField(desc="true if the pairing is reasonable")
