"""Quality gates: what is never kept, whatever the judge says.

A judge compares two answers; it does not ask whether the winner is a usable
training example. An empty answer can "win" against a worse one, an answer
cut off at ``max_tokens`` reads as complete to a lenient judge, and a small
model asked to rewrite an instruction may hand back our own prompt wording
(or DSPy's adapter scaffolding) as its "instruction". Frontier models do all
of this too, only less often. Each gate here turns one such failure into a
rejection with a machine-readable reason:

    empty_response      the answer has no letter, digit or symbol (invisible characters do not count)
    truncated_response  the provider stopped before the answer was done (``Answer.truncated``)
    secret              a key the run registered, or a well-known credential, in an instruction or answer
    refusal             an instruction or answer opens like a refusal, or a disclaimer no answer follows
    echoed_instruction  the answer only repeats its instruction
    prompt_leak         an instruction or answer copies prompt text, adapter or template markers,
                        or our JSON scaffolding
    bad_metadata        a use case or skill that is not words, or is too long

The prompt-leak check is built from the *program's* predictors, so it knows
the prompts a compiled program actually sends, not only the defaults.

Written by hand: DSPy and LiteLLM say nothing about whether an answer is fit
to train on, and the checks are a few lines each. Every check reads the
text's ``canonical`` form, so a zero-width space or a curly apostrophe cannot
slip a broken answer past it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from codeclm_dspy.config.quality import QualityConfig
from codeclm_dspy.engine.runtime import Answer
from codeclm_dspy.pipeline.text import canonical, echoes, json_object, opening, words
from codeclm_dspy.secrets import credential_kind, masked_in

REASONS = (
    *("empty_response", "truncated_response", "secret", "refusal", "echoed_instruction"),
    *("prompt_leak", "bad_metadata"),
)

# Text DSPy's adapters write around the fields; an instruction holding any of
# it was copied from a prompt, not written for a user.
ADAPTER_MARKERS = (
    *("[[ ##", "## ]]", "your input fields are", "your output fields are", "respond with a json object"),
    *("all interactions will be structured", "in adhering to this structure"),
    *("respond with the corresponding output fields", "the value you produce must adhere to the json schema"),
)
# Special tokens of common chat templates (Llama 2/Mistral, ChatML, Gemma, Llama 3, Phi-3): a
# model that writes them is echoing its template, not answering. HTML-like ones (<s>) are left
# out: they can be real content.
TEMPLATE_TOKENS = (
    *("[inst]", "[/inst]", "<<sys>>", "<</sys>>", "<|im_start|>", "<|im_end|>", "<|endoftext|>"),
    *("<start_of_turn>", "<end_of_turn>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>"),
    *("<|eot_id|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
)
# Alpaca-style prompt sections, at the start of a line.
SECTION_HEADER = re.compile(r"^[ \t]*###[ \t]*(instruction|response)[ \t]*:", re.I | re.M)

# Code blocks and inline code: ``{count}`` there is a format string, not a placeholder.
CODE = re.compile(r"```.*?(?:```|$)|`[^`\n]*`", re.S)
# Where a sentence ends: ".", "!" or "?" (and a closing quote or bracket) before a space, or a line break.
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]\u2019\u201d]*\s+|\n+")
# Where a clause starts in a plain-form sentence: a refusal opening there says no ("As an AI, I can't help").
CLAUSE_START = r"(?:^|[,;:]\s*|\s-+\s*|\s*[\u2013\u2014]\s*|\b(?:but|and|so|yet)\s+)"


def _either(patterns: list[str], before: str = "") -> re.Pattern | None:
    """One case-insensitive regex for any of ``patterns`` (None for none), each after ``before``."""
    return re.compile(before + "(" + "|".join(f"(?:{p})" for p in patterns) + ")", re.I) if patterns else None


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


def secret(text: str) -> Problem | None:
    """A key this run uses or a well-known credential in ``text``, or its mask.

    The call engine masks both in every answer as it arrives
    (``secrets.scrub_model_text``), so this gate mostly finds the mask: a
    resumed session, which reads the answer from the journal, decides the
    same. The detail names the kind, never the key: rows are written to disk.
    """
    if not masked_in(text):
        return None
    kind = credential_kind(text)  # None once masked: then both sessions say the same
    return Problem(
        "secret", f"holds what looks like a credential ({kind})" if kind else "held a key (masked)"
    )


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
            said = words(text)
            self._ngrams.update(tuple(said[k : k + n]) for k in range(len(said) - n + 1))
        self._names = {name.lower() for name in field_names}
        names = sorted(self._names, key=len, reverse=True)
        self._placeholder = (
            re.compile(r"\{\s*(" + "|".join(map(re.escape, names)) + r")\s*\}", re.I) if names else None
        )
        self._refusal = _either(self.config.refusal_patterns)
        self._disclaimer = _either(self.config.disclaimer_patterns)
        self._says_no = _either(self.config.refusal_patterns, CLAUSE_START)

    @classmethod
    def for_modules(cls, config: QualityConfig | None, *modules, extra_texts: Iterable[str] = ()) -> Gates:
        """Gates that know the prompts of every predictor in ``modules``."""
        texts, names = list(extra_texts), set()
        for module in modules:
            more, more_names = prompt_texts(module)
            texts.extend(more)
            names |= more_names
        return cls(config, texts, names)

    def leak(self, text: str, instruction: str = "") -> Problem | None:
        """Prompt text, an adapter or template marker, a field placeholder or our JSON in ``text``.

        Args:
            text: the instruction or answer to check.
            instruction: what an answer answers; a JSON key it names was asked for.
        """
        if not self.config.prompt_leak:
            return None
        lowered = canonical(text).lower()
        marker = next((m for m in ADAPTER_MARKERS if m in lowered), None)
        if marker:
            return Problem("prompt_leak", f"adapter text {marker!r}")
        token = next((t for t in TEMPLATE_TOKENS if t in lowered), None)
        if token:
            return Problem("prompt_leak", f"chat-template token {token!r}")
        if header := SECTION_HEADER.search(lowered):
            return Problem("prompt_leak", f"prompt section header {header.group(0).strip()!r}")
        if self._placeholder and (found := self._placeholder.search(CODE.sub(" ", text))):
            return Problem("prompt_leak", f"field placeholder {found.group(0)!r}")
        if problem := self._scaffolding(text, instruction):
            return problem
        n = self.config.leak_words
        said = words(text)
        for k in range(len(said) - n + 1):
            if tuple(said[k : k + n]) in self._ngrams:
                return Problem("prompt_leak", "copies prompt text: " + " ".join(said[k : k + n]))
        return None

    def _scaffolding(self, text: str, instruction: str) -> Problem | None:
        """A JSON object (or a JSON schema) keyed only by our signatures' field names.

        JSON in general is fine: a generated instruction may ask for it, and
        keys the instruction names were asked for.
        """
        found = json_object(text) if self._names else None
        if not found:
            return None
        properties = found.get("properties")
        schema = found.get("type") == "object" and isinstance(properties, dict) and properties
        keys = {str(key).lower() for key in (properties if schema else found)}
        if keys <= self._names and not keys <= set(words(instruction)):
            what = "JSON schema" if schema else "JSON object"
            return Problem("prompt_leak", f"a {what} of our field names {sorted(keys)}")
        return None

    def _refused(self, text: str) -> Problem | None:
        if not self.config.refusals:
            return None
        start = opening(text)
        if self._refusal and (found := self._refusal.match(start)):
            return Problem("refusal", f"opens with {found.group(0).strip()!r}")
        found = self._disclaimer.match(start) if self._disclaimer else None
        return self._unanswered(text, found.group(0).strip()) if found else None

    def _unanswered(self, text: str, said: str) -> Problem | None:
        """``text``, which opens with the disclaimer ``said`` ("As an AI"), as a refusal unless it answers.

        The disclaimer is the first sentence and each next one that opens like one. A clause of it, or
        of the sentence after it, that opens like a refusal ("As an AI, I can't help with that.") makes
        the text a refusal however long it goes on: losing a partial answer beats keeping a refusal.
        Otherwise it answers when ``disclaimer_answer_words`` words follow the disclaimer: "As an AI, I
        cannot browse the internet." alone is a refusal; the same before a list of tips is not.
        """
        sentences = [opening(s, len(s)) for s in SENTENCE_END.split(canonical(text)) if s.strip()]
        end = next(
            (k for k, s in enumerate(sentences) if k and not self._disclaimer.match(s)), len(sentences)
        )
        if self._says_no and (no := self._says_no.search(", ".join(sentences[: end + 1]))):  # each a clause
            return Problem("refusal", f"opens with {said!r}, then says {no.group(1).strip()!r}")
        if (n := len(words(" ".join(sentences[end:])))) < self.config.disclaimer_answer_words:
            return Problem("refusal", f"opens with {said!r}, and only {n} words follow it")
        return None

    def _secret(self, text: str) -> Problem | None:
        return secret(text) if self.config.secrets else None

    def instruction(self, text: str) -> Problem | None:
        """An instruction holding a secret, a refusal in its place, or leaked prompt text."""
        return self._secret(text) or self._refused(text) or self.leak(text)

    def answer(self, answer: Answer | str, *, instruction: str | None = None) -> Problem | None:
        """Not an answer to keep: empty, cut short, a secret, a refusal, an echo or a leak.

        Args:
            answer: the model's answer (a plain string has no finish reason).
            instruction: what it answers, when known: an answer that only
                repeats it is refused, and JSON keys it names are allowed.
        """
        if isinstance(answer, str):
            answer = Answer(answer)
        c, text = self.config, answer.text
        if c.empty and not any(ch.isalnum() or unicodedata.category(ch) == "So" for ch in canonical(text)):
            return Problem(
                "empty_response", "the answer is empty" if not text.strip() else "no letter, digit or symbol"
            )
        if c.truncated and answer.truncated:
            return Problem(
                "truncated_response",
                f"the provider stopped the answer (finish_reason: {answer.finish_reason})",
            )
        if problem := self._secret(text) or self._refused(text):
            return problem
        if c.echoed_instruction and instruction and echoes(text, instruction):
            return Problem("echoed_instruction", "the answer only repeats the instruction")
        return self.leak(text, instruction or "")

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
