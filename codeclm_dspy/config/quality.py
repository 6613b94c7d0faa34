"""The ``quality:`` section: which quality gates run (``pipeline/quality.py``), and their limits."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

# Openings of a refusal, matched case-insensitively at the start of an answer
# or instruction. The gate first puts the opening in a plain form (curly
# apostrophes and quotes made ASCII, leading markdown emphasis, quote marks
# and ">" removed, spaces collapsed), so the patterns are written for that
# form. English only. A user may replace the list (``quality.refusal_patterns``).
_CANNOT = r"(cannot|can ?not|can'?t|won'?t|will not|unable to|not able to)( be able to)?"
_TASKS = r"(help(?! but\b| the way\b| \w+ing\b)|assist|provide|answer|comply|do|fulfil+|complete|write|create|generate|engage|support|share|give)\b"
# Sympathy ("I'm sorry to hear that") opens many good answers; it is not a refusal.
_SYMPATHY = r"(?! to hear| for your| about your| for that\b)"
DEFAULT_REFUSALS = [
    rf"(i'?m|i am) (so |very |really |truly |terribly )?sorry\b{_SYMPATHY}",
    r"(i'?m|i am) afraid (that )?(i|we)\b",
    rf"sorry\b{_SYMPATHY}",
    r"(my )?apologies\b",
    r"(i|we) (sincerely |do )?apologi[sz]e\b",
    rf"((unfortunately|regrettably|sadly),? )?(i|we)('m| am|'re| are)? (really |simply )?{_CANNOT} {_TASKS}",
    r"(i|we) (must|have to) (respectfully |politely )?decline\b",
]
# Openings that say what the model is rather than that it will not answer:
# "As an AI, I don't have opinions, but here are the main arguments..." often
# goes on to answer in full. Matched like the refusal openings, but such an
# opening is a refusal only when no answer follows it (``pipeline/quality.py``
# says when one does). A user may replace this list too, or move a pattern to
# ``refusal_patterns`` to refuse it whatever follows.
DEFAULT_DISCLAIMERS = [
    r"as an ai( language model| assistant)?\b",
]


class QualityConfig(BaseModel):
    """The ``quality:`` section: which gates run, and their limits.

    Attributes:
        empty: reject an answer with no letter or digit (empty, spaces,
            punctuation or invisible characters only).
        truncated: reject an answer the provider stopped before it was done
            (``Answer.truncated``: the token limit, or its content filter).
        refusals: reject an answer or instruction that opens with one of
            ``refusal_patterns``, or with one of ``disclaimer_patterns`` and
            no answer after it.
        refusal_patterns: regular expressions, matched case-insensitively at
            the start of the opening's plain form (see ``DEFAULT_REFUSALS``).
            A match is a refusal whatever follows.
        disclaimer_patterns: openings matched the same way that may preface
            an answer (see ``DEFAULT_DISCLAIMERS``).
        disclaimer_answer_words: how many words must follow a disclaimer's
            sentences for the text to count as an answer; fewer is a
            refusal. About two sentences: less is a remark ("check a
            calendar"), not an answer.
        echoed_instruction: reject an answer that only repeats its instruction.
        secrets: reject an instruction or answer holding a key the run
            registered or a well-known credential.
        prompt_leak: reject instructions and answers that copy prompt text.
        leak_words: this many words in a row shared with a step's prompt
            text (signature instructions, field descriptions) is a copy.
        metadata: reject metadata whose use case or skills are not words.
        max_use_case_chars, max_skill_chars: longer is a sentence, not a label.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)

    empty: bool = True
    truncated: bool = True
    refusals: bool = True
    refusal_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_REFUSALS))
    disclaimer_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_DISCLAIMERS))
    disclaimer_answer_words: int = Field(default=25, ge=1, le=10_000)
    echoed_instruction: bool = True
    secrets: bool = True
    prompt_leak: bool = True
    leak_words: int = Field(default=6, ge=3, le=50)
    metadata: bool = True
    max_use_case_chars: int = Field(default=80, ge=1, le=10_000)
    max_skill_chars: int = Field(default=60, ge=1, le=10_000)

    @field_validator("refusal_patterns", "disclaimer_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str], info: ValidationInfo) -> list[str]:
        kind = "disclaimer" if info.field_name == "disclaimer_patterns" else "refusal"
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{kind} pattern {pattern!r} is not a regular expression: {exc}") from None
        return patterns
