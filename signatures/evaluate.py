"""The final evaluation judge behind CRR (CodecLM §5.3, A.5 and Fig. 12).

The paper scores its fine-tuned targets with a separate judge and a prompt
of its own, not the Contrastive Filtering scorer (``signatures.judge``): the
evaluator gives both scores first and then explains them. Asking for the
numbers before the reasoning is the paper's order, so the scores are parsed
from a fixed place and the explanation is kept as evidence for a reader.
The wording below is ours.
"""

import dspy

from signatures.judge import Score


class EvaluatePair(dspy.Signature):
    """Act as a careful, exact reviewer of answer quality.

    Two AI assistants answered the user question below. Judge how helpful,
    relevant, accurate and detailed each answer is, and give each one overall
    score from 1 to 10, where a higher number means a better answer. State
    both scores first; after them, explain your assessment in a few sentences.
    Stay impartial: which answer is shown first, and how long an answer is,
    must not change your scores.
    """

    instruction: str = dspy.InputField(desc="the user question both assistants answered")
    answer_1: str = dspy.InputField(desc="assistant 1's answer")
    answer_2: str = dspy.InputField(desc="assistant 2's answer")
    score_1: Score = dspy.OutputField(desc="assistant 1's overall score, 1 to 10")
    score_2: Score = dspy.OutputField(desc="assistant 2's overall score, 1 to 10")
    explanation: str = dspy.OutputField(desc="why the answers earned these scores, in a few sentences")
