"""Contrastive Filtering scorer: rate two answers to one request."""

from typing import Literal

import dspy

Score = Literal[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]


class JudgePair(dspy.Signature):
    """Grade two assistants' answers to the same user request.

    Rate each answer from 1 (useless) to 10 (excellent) for helpfulness,
    relevance, accuracy and level of detail. Judge the content only: neither
    the position of an answer nor its length earns points by itself.
    """

    instruction: str = dspy.InputField(desc="the user request")
    answer_1: str = dspy.InputField(desc="the first assistant's answer")
    answer_2: str = dspy.InputField(desc="the second assistant's answer")
    score_1: Score = dspy.OutputField(desc="overall score of the first answer")
    score_2: Score = dspy.OutputField(desc="overall score of the second answer")
