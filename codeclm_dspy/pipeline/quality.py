"""Quality gates: what is never kept, whatever the judge says.

A judge compares two answers; it does not ask whether the winner is a usable
training example. An empty answer can "win" against a worse one, an answer
cut off at ``max_tokens`` reads as complete to a lenient judge, and a small
model asked to rewrite an instruction may hand back our own prompt wording
(or DSPy's adapter scaffolding) as its "instruction". Frontier models do all
of this too, only less often. Each gate here turns one such failure into a
rejection with a machine-readable reason:

    empty_response      the kept answer is empty or whitespace
    truncated_response  the provider stopped at the token limit (finish_reason "length")
    refusal             the kept answer opens like a refusal (configurable patterns)
    prompt_leak         an instruction or answer copies prompt text or adapter markers
    bad_metadata        a use case or skill that is not words, or is too long

The prompt-leak check is built from the *program's* predictors, so it knows
the prompts a compiled program actually sends, not only the defaults.

Written by hand: DSPy and LiteLLM say nothing about whether an answer is fit
to train on, and the checks are a few lines each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from codeclm_dspy.config.quality import QualityConfig
from codeclm_dspy.engine.runtime import Answer

REASONS = ("empty_response", "truncated_response", "refusal", "prompt_leak", "bad_metadata")

# Text DSPy's adapters write around the fields; an instruction holding any of
# it was copied from a prompt, not written for a user.
ADAPTER_MARKERS = (
    "[[ ##",
    "## ]]",
    "your input fields are",
    "your output fields are",
    "all interactions will be structured",
    "in adhering to this structure",
    "respond with the corresponding output fields",
    "respond with a json object",
    "the value you produce must adhere to the json schema",
)
# Special tokens of common chat templates (Llama/Mistral, ChatML, Gemma, Llama 3): a model
# that writes them is echoing its template, not answering. HTML-like ones (<s>) are left
# out: they can be real content.
TEMPLATE_TOKENS = (
    "[inst]",
    "[/inst]",
    "<|im_start|>",
    "<|im_end|>",
    "<|endoftext|>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<|eot_id|>",
    "<|start_header_id|>",
    "<<sys>>",
)


@dataclass(frozen=True)
class Problem:
    """Why a gate refused something: a reason from ``REASONS`` and the evidence."""

    reason: str
    detail: str


class QualityRejected(Exception):
    """An item the gates refused; the runner records it as rejected (not failed).

    Attributes:
        problem: the gate's reason and evidence.
        stage: the step whose output was refused.
    """

    def __init__(self, problem: Problem, stage: str):
        super().__init__(f"{problem.reason}: {problem.detail}")
        self.problem, self.stage = problem, stage


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def prompt_texts(module) -> tuple[list[str], set[str]]:
    """The prompt text and field names of every predictor in ``module``.

    Signature instructions and field descriptions are what a model sees of
    our prompts (demos are examples of the task and are left out).
    """
    texts, names = [], set()
    for _name, predictor in module.named_predictors():
        signature = predictor.signature
        texts.append(signature.instructions or "")
        for field_name, field in signature.fields.items():
            names.add(field_name)
            extra = field.json_schema_extra or {}
            texts.append(str(extra.get("desc") or ""))
    return texts, names


class Gates:
    """One run's gates: its ``QualityConfig`` and the prompts it must not echo.

    Args:
        config: which gates run.
        texts: prompt text an instruction or answer must not copy.
        field_names: signature field names (a ``{field}`` placeholder is a leak).
    """

    def __init__(
        self, config: QualityConfig | None = None, texts: Iterable[str] = (), field_names: Iterable[str] = ()
    ):
        self.config = config or QualityConfig()
        n = self.config.leak_words
        self._ngrams: set[tuple[str, ...]] = set()
        for text in texts:
            words = _words(text)
            self._ngrams.update(tuple(words[k : k + n]) for k in range(len(words) - n + 1))
        names = sorted({name.lower() for name in field_names}, key=len, reverse=True)
        self._placeholder = (
            re.compile(r"\{\s*(" + "|".join(map(re.escape, names)) + r")\s*\}", re.I) if names else None
        )
        self._refusal = (
            re.compile(r"\s*(?:" + "|".join(f"(?:{p})" for p in self.config.refusal_patterns) + ")", re.I)
            if self.config.refusal_patterns
            else None
        )

    @classmethod
    def for_modules(cls, config: QualityConfig | None, *modules, extra_texts: Iterable[str] = ()) -> Gates:
        """Gates that know the prompts of every predictor in ``modules``."""
        texts, names = list(extra_texts), set()
        for module in modules:
            more, more_names = prompt_texts(module)
            texts.extend(more)
            names |= more_names
        return cls(config, texts, names)

    def leak(self, text: str) -> Problem | None:
        """Prompt text, an adapter marker or a field placeholder inside ``text``."""
        if not self.config.prompt_leak:
            return None
        lowered = text.lower()
        marker = next((m for m in ADAPTER_MARKERS if m in lowered), None)
        if marker:
            return Problem("prompt_leak", f"adapter text {marker!r}")
        token = next((t for t in TEMPLATE_TOKENS if t in lowered), None)
        if token:
            return Problem("prompt_leak", f"chat-template token {token!r}")
        if self._placeholder and (found := self._placeholder.search(text)):
            return Problem("prompt_leak", f"field placeholder {found.group(0)!r}")
        n = self.config.leak_words
        words = _words(text)
        for k in range(len(words) - n + 1):
            if tuple(words[k : k + n]) in self._ngrams:
                return Problem("prompt_leak", "copies prompt text: " + " ".join(words[k : k + n]))
        return None

    def instruction(self, text: str) -> Problem | None:
        """An instruction is refused only for leaking prompt text."""
        return self.leak(text)

    def answer(self, answer: Answer | str) -> Problem | None:
        """Empty, truncated, a refusal or leaked prompt text: not an answer to keep."""
        if isinstance(answer, str):
            answer = Answer(answer)
        c = self.config
        if c.empty and not answer.text.strip():
            return Problem("empty_response", "the answer is empty")
        if c.truncated and answer.truncated:
            return Problem("truncated_response", "the provider stopped at max_tokens (finish_reason: length)")
        if c.refusals and self._refusal and (found := self._refusal.match(answer.text[:300])):
            return Problem("refusal", f"opens with {found.group(0).strip()!r}")
        return self.leak(answer.text)

    def metadata(self, use_case: str, skills: Iterable[str]) -> Problem | None:
        """A use case and skills that are short labels made of words."""
        skills = list(skills)
        if not self.config.metadata:
            return None
        c = self.config
        if not re.search(r"[^\W\d_]{2,}", use_case):
            return Problem("bad_metadata", f"use case {use_case!r} is not words")
        if len(use_case) > c.max_use_case_chars:
            return Problem(
                "bad_metadata", f"use case is {len(use_case)} characters (limit {c.max_use_case_chars})"
            )
        if not skills:
            return Problem("bad_metadata", "no skills")
        for skill in skills:
            if not re.search(r"[^\W\d_]{2,}", skill):
                return Problem("bad_metadata", f"skill {skill!r} is not words")
            if len(skill) > c.max_skill_chars:
                return Problem(
                    "bad_metadata",
                    f"skill {skill[:40]!r}... is {len(skill)} characters (limit {c.max_skill_chars})",
                )
        for text in (use_case, *skills):
            if problem := self.leak(text):
                return Problem("bad_metadata", problem.detail)
        return None
