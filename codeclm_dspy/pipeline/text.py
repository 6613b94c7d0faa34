"""What counts as an instruction, and when two instructions are the same.

Shared by the decoder, Self-Rubrics and the baselines, so every generator
cleans, filters and deduplicates instructions alike.
"""

from __future__ import annotations

import hashlib
import re

_NUMBERING = re.compile(r"^\s*(?:[-*•]|\(?\d+[.)]|#\d+)\s*")


def normalize(text: str) -> str:
    """The form two instructions are compared in for exact duplicates."""
    return " ".join(text.lower().split())


def duplicate_key(text: str) -> str:
    """The hex digest a run remembers an instruction by to spot duplicates (``key_index.py``)."""
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


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
