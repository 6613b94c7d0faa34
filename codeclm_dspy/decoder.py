"""Decode: metadata -> basic instructions, zero-shot (CodecLM §4.1)."""

from __future__ import annotations

import re

import dspy

from codeclm_dspy.records import Metadata
from codeclm_dspy.runtime import Runtime
from signatures import DecodeInstructions

TOP_UP_ROUNDS = 3
_NUMBERING = re.compile(r"^\s*(?:[-*•]|\(?\d+[.)]|#\d+)\s*")


def normalize(text: str) -> str:
    """The form two instructions are compared in for exact duplicates."""
    return " ".join(text.lower().split())


def looks_like_instruction(text: str) -> bool:
    """At least three words with letters in them.

    Small models sometimes answer with a schema field name
    ("new_instructions"), stray brackets or a lone word; none is a request
    a user would make, and keeping one would put junk in the dataset.
    """
    return sum(any(c.isalpha() for c in word) for word in text.split()) >= 3


def clean_instruction(text: str) -> str:
    """Strip list numbering and surrounding whitespace a model may add."""
    return _NUMBERING.sub("", str(text)).strip()


class Decoder(dspy.Module):
    """Write ``count`` distinct basic instructions for one metadata."""

    def __init__(self):
        super().__init__()
        self.decode = dspy.Predict(DecodeInstructions)

    def forward(self, rt: Runtime, meta: Metadata, count: int) -> list[str]:
        """Ask for ``count``; ask again (fresh rollouts) for any shortfall.

        Returns at most ``count`` instructions, distinct after normalisation.
        Fewer come back only if the model keeps repeating itself.
        """
        found: dict[str, str] = {}
        for round_ in range(TOP_UP_ROUNDS):
            missing = count - len(found)
            if missing <= 0:
                break
            out = rt.structured(
                self.decode,
                "decode",
                "strong",
                rollout=round_ * (rt.parse_retries + 1),
                use_case=meta.use_case,
                skills=list(meta.skills),
                count=missing,
            )
            for text in out.new_instructions:
                text = clean_instruction(text)
                if looks_like_instruction(text) and normalize(text) not in found:
                    found[normalize(text)] = text
        return list(found.values())[:count]
