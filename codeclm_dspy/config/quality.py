"""The ``quality:`` section: which quality gates run (``pipeline/quality.py``), and their limits."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Openings of a refusal, matched case-insensitively against the start of an
# answer. A user may replace the list in config (``quality.refusal_patterns``).
DEFAULT_REFUSALS = [
    r"(i'?m|i am) (so |very |really )?(sorry|afraid)\b",
    r"sorry\b",
    r"(i|we) apologi[sz]e\b",
    r"(i|we) (cannot|can ?not|can'?t|won'?t|will not|am unable to|'?m unable to|am not able to|'?m not able to) "
    r"(help|assist|provide|answer|comply|do|fulfil+|complete|write|create|generate|engage)\b",
    r"as an ai( language model)?\b",
]


class QualityConfig(BaseModel):
    """The ``quality:`` section: which gates run, and their limits.

    Attributes:
        empty: reject an empty or whitespace-only answer.
        truncated: reject an answer the provider cut at ``max_tokens``.
        refusals: reject an answer that opens with one of ``refusal_patterns``.
        refusal_patterns: regular expressions, matched case-insensitively at
            the start of the answer.
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
    prompt_leak: bool = True
    leak_words: int = Field(default=6, ge=3, le=50)
    metadata: bool = True
    max_use_case_chars: int = Field(default=80, ge=1, le=10_000)
    max_skill_chars: int = Field(default=60, ge=1, le=10_000)

    @field_validator("refusal_patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"refusal pattern {pattern!r} is not a regular expression: {exc}") from None
        return patterns
