"""One ``dspy.Signature`` per CodecLM step.

Signatures say *what* each step asks of a language model; the modules in
``codeclm_dspy`` say how the steps compose. Optimizers rewrite the
instructions and demos attached to these signatures, so the text here is a
starting point, not a contract.
"""

from signatures.decode import DecodeInstructions
from signatures.encode import EncodeInstruction
from signatures.improve import ImproveInstruction
from signatures.judge import JudgePair
from signatures.plausibility import CheckMetadata
from signatures.rubrics import RubricAction, WriteRubrics

__all__ = [
    "CheckMetadata",
    "DecodeInstructions",
    "EncodeInstruction",
    "ImproveInstruction",
    "JudgePair",
    "RubricAction",
    "WriteRubrics",
]
