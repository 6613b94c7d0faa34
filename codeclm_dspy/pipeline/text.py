"""What counts as an instruction, and when two instructions are the same.

Shared by the decoder, Self-Rubrics and the baselines, so every generator
cleans, filters and deduplicates instructions alike, and the quality gates
read text the same way (``quality.py``). Models write the same
request in forms that differ only where a reader cannot see: a zero-width
space, a full-width question mark, a final "?" or none. ``canonical`` and
``normalize`` remove those differences before anything is compared.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

_NUMBERING = re.compile(r"^\s*(?:[-*•]|\(?\d+[.)]|#\d+)\s*")
# Sentence ends (after NFKC, which turns full-width "?" and "!" into ASCII, and "…" into "...").
_SENTENCE_END = ".?!。 "
# Leading characters that do not change what an opening says: markdown quote
# and emphasis, quote marks, spaces.
_LEAD = re.compile(r"^[\s>*_\"'`]+")
_ASCII_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})
# Words a model wraps an echoed instruction in ("Question: ... Answer:").
WRAPPERS = frozenset(
    {"q", "a", "question", "answer", "instruction", "response", "input", "output", "prompt", "request"}
    | {"task", "user", "assistant"}
)
_FENCE = re.compile(r"^```[\w-]*\s*\n(.*)\n\s*```$", re.S)


def canonical(text: str) -> str:
    """``text`` in NFKC, without Unicode format characters (category Cf).

    Format characters (zero-width spaces and joiners, the byte-order mark,
    soft hyphens) change no visible letter, so they must change no decision.
    """
    if text.isascii():  # nothing to change, and most text: skip the walk over every character
        return text
    return unicodedata.normalize("NFKC", "".join(c for c in text if unicodedata.category(c) != "Cf"))


def normalize(text: str) -> str:
    """The form two instructions are compared in for exact duplicates.

    Case, spacing, invisible characters, compatibility forms and the final
    sentence punctuation are ignored: "Reset it?" and "reset it" are one request.
    """
    return " ".join(canonical(text).lower().split()).rstrip(_SENTENCE_END)


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


def words(text: str) -> list[str]:
    """The lowercase words of ``text``'s canonical form."""
    return re.findall(r"\w+", canonical(text).lower())


def opening(text: str, chars: int = 300) -> str:
    """The start of ``text`` in a plain form, for matching how it opens.

    Curly apostrophes and quotes become ASCII, markdown emphasis goes, and so
    do leading quote marks, ``>`` and spaces: ``> **I'm sorry**`` (curly or
    not) reads ``I'm sorry``.
    """
    plain = canonical(text[:chars]).translate(_ASCII_QUOTES).replace("*", "").replace("__", "")
    return " ".join(_LEAD.sub("", plain).split())


def echoes(answer: str, instruction: str) -> bool:
    """``answer`` is ``instruction`` again, alone or wrapped in words like "Question:" and "Answer:"."""
    asked, said = words(instruction), words(answer)
    n = len(asked)
    if not n or not n <= len(said) <= n + 6:
        return False
    for k in range(len(said) - n + 1):
        if said[k : k + n] == asked:
            return all(word in WRAPPERS for word in said[:k] + said[k + n :])
    return False


def json_object(text: str) -> dict | None:
    """``text`` as a JSON object when that is all it is (a ``` fence around it allowed)."""
    body = text.strip()
    if fenced := _FENCE.match(body):
        body = fenced.group(1).strip()
    if not (body.startswith("{") and body.endswith("}")):
        return None
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):  # a model can nest brackets deeper than the parser goes
        return None
    return value if isinstance(value, dict) else None
