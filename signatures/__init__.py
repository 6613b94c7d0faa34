"""One ``dspy.Signature`` per CodecLM step.

Signatures say *what* each step asks of a language model; the modules in
``codeclm_dspy`` say how the steps compose. Optimizers rewrite the
instructions and demos attached to these signatures, so the text here is a
starting point, not a contract.
"""

from signatures.assess import CheckAdherence, CompareDifficulty
from signatures.decode import DecodeInstructions
from signatures.encode import EncodeInstruction
from signatures.evolve import EvolveInstruction, SameInstruction
from signatures.improve import ImproveInstruction
from signatures.judge import JudgePair
from signatures.plausibility import CheckMetadata
from signatures.rubrics import RubricAction, WriteRubrics
from signatures.self_instruct import BrainstormTasks

__all__ = [
    "BrainstormTasks",
    "CheckAdherence",
    "CheckMetadata",
    "CompareDifficulty",
    "DecodeInstructions",
    "EncodeInstruction",
    "EvolveInstruction",
    "ImproveInstruction",
    "JudgePair",
    "RubricAction",
    "SameInstruction",
    "WriteRubrics",
]
