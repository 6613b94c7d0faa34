"""One metric per CodecLM step, scored 0-1 on held-out examples.

Every metric is a plain function ``metric(gold, pred, trace=None,
pred_name=None, pred_trace=None)``: ``dspy.Evaluate`` and the bootstrapping
optimizers read the float it returns, and GEPA, which passes ``pred_name``,
gets ``dspy.Prediction(score=..., feedback=...)`` with text saying what to fix.
``metric.assess(gold, pred)`` gives the full ``Assessment`` (score, feedback
and the parts the score is made of) for reports.

The judged metrics ask the judge role through fixed signatures
(``signatures/assess.py``) that no optimizer rewrites.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import dspy
import numpy as np

from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.errors import StepParseError
from codeclm_dspy.pipeline.encoder import MAX_SKILLS, clean_skills
from codeclm_dspy.pipeline.text import clean_instruction, normalize
from signatures import CheckAdherence, CompareDifficulty

Embed = Callable[[list[str]], np.ndarray]  # texts -> unit-length rows
DEGRADATION_WORDS = {
    "off_topic": "about a different request",
    "truncated": "cut off after its first quarter",
    "refusal": "a refusal",
}


@dataclass
class Assessment:
    """A score in [0, 1], what to change to raise it, and its parts."""

    score: float
    feedback: str
    parts: dict[str, float] = field(default_factory=dict)


def as_metric(assess: Callable[[dspy.Example, dspy.Prediction], Assessment]) -> Callable:
    """Wrap ``assess`` in the calling convention every DSPy optimizer accepts."""

    def metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
        result = assess(gold, pred)
        if pred_name is not None:
            return dspy.Prediction(score=result.score, feedback=result.feedback)
        return result.score

    metric.assess = assess
    return metric


def skill_words_ok(skill: str) -> bool:
    """A skill is two or three words (the encoder's instructions say so)."""
    return 2 <= len(str(skill).split()) <= 3


def encode_format(use_case: str, skills: list[str]) -> tuple[float, list[str]]:
    """How well raw encoder output keeps the metadata format, and what breaks it.

    Three checks weigh equally: a use case of one to six words; one to
    ``MAX_SKILLS`` skills; the share of skills that are two or three words.
    """
    problems = []
    words = len(str(use_case).split())
    use_case_ok = 1 <= words <= 6
    if not use_case_ok:
        problems.append(f"the use case should be one to six words, not {words}")
    count_ok = 1 <= len(skills) <= MAX_SKILLS
    if not count_ok:
        problems.append(f"give one to {MAX_SKILLS} skills, not {len(skills)}")
    bad = [s for s in skills if not skill_words_ok(s)]
    if bad:
        problems.append("skills must be two or three words: " + ", ".join(repr(s) for s in bad))
    share = (len(skills) - len(bad)) / len(skills) if skills else 0.0
    return (use_case_ok + count_ok + share) / 3, problems


def batch_diversity(vectors: np.ndarray) -> float:
    """1 - mean pairwise cosine similarity of unit rows, in [0, 1]; 0 below two rows."""
    n = len(vectors)
    if n < 2:
        return 0.0
    sims = vectors @ vectors.T
    mean = (sims.sum() - np.trace(sims)) / (n * (n - 1))
    return float(min(1.0, max(0.0, 1.0 - mean)))


def judge_agreement(scores: dict[str, dict[str, int]]) -> tuple[float, bool, int]:
    """(share of orders where the known-better answer scored higher, both orders agree, ties).

    ``scores`` is ``ContrastiveFilter.score``'s output with the reference in
    the "strong" slot and its degraded copy in the "target" slot.
    """
    prefers = [
        (o["strong"] > o["target"]) - (o["strong"] < o["target"]) for o in scores.values()
    ]  # +1 reference, -1 degraded, 0 tie
    agreement = sum(p > 0 for p in prefers) / len(prefers)
    return agreement, len(set(prefers)) == 1, sum(p == 0 for p in prefers)


def _locked(embed: Embed) -> Embed:
    lock = threading.Lock()

    def run(texts: list[str]) -> np.ndarray:
        with lock:  # one model, called from the optimizer's threads
            return embed(texts)

    return run


def encode_metric(rt: Runtime, embed: Embed, decoder: dspy.Predict) -> Callable:
    """Round trip: decode one instruction from the metadata, compare it with the seed.

    Score = (format validity + cosine similarity of seed and decoded instruction) / 2.
    ``decoder`` is a frozen copy of the decode predictor.
    """
    embed = _locked(embed)

    def assess(gold, pred) -> Assessment:
        validity, problems = encode_format(pred.use_case, list(pred.skills))
        skills = list(clean_skills(pred.skills))
        similarity, decoded = 0.0, ""
        if str(pred.use_case).strip() and skills:
            try:
                out = rt.structured(
                    decoder, "metric:encode", "strong", use_case=str(pred.use_case), skills=skills, count=1
                )
                decoded = clean_instruction(out.new_instructions[0]) if out.new_instructions else ""
            except StepParseError:
                problems.append("no instruction could be decoded back from this metadata")
        if decoded:
            a, b = embed([gold.instruction, decoded])
            similarity = max(0.0, float(a @ b))
            if similarity < 0.5:
                problems.append(
                    f"an instruction decoded from it ({decoded[:120]!r}) is far from the original "
                    f"(similarity {similarity:.2f}): name the use case and skills that make it this request"
                )
        score = (validity + similarity) / 2
        return Assessment(
            score,
            "; ".join(problems) or "well formed and specific",
            {"format": validity, "round_trip": similarity},
        )

    return as_metric(assess)


def decode_metric(rt: Runtime, embed: Embed) -> Callable:
    """Adherence to the metadata (judged, per instruction) and diversity within the batch.

    Score = (adherence + diversity) / 2; adherence is averaged over the number
    of instructions asked for, so a shortfall costs.
    """
    embed, checker = _locked(embed), dspy.Predict(CheckAdherence)

    def assess(gold, pred) -> Assessment:
        texts = [t for t in pred.instructions if t.strip()]
        fits, problems = 0.0, []
        for text in texts:
            try:
                out = rt.structured(
                    checker,
                    "metric:decode",
                    "judge",
                    use_case=gold.use_case,
                    skills=list(gold.skills),
                    instruction=text,
                )
            except StepParseError:
                problems.append(f"could not judge {text[:80]!r}")
                continue
            fits += (bool(out.fits_use_case) + bool(out.uses_skills)) / 2
            if not (out.fits_use_case and out.uses_skills):
                problems.append(f"{text[:80]!r} strays from the use case or skills")
        adherence = fits / max(gold.count, 1)
        diversity = batch_diversity(embed(texts)) if len(texts) > 1 else 0.0
        if len(texts) < gold.count:
            problems.append(f"asked for {gold.count} instructions, got {len(texts)}")
        if diversity < 0.3 and len(texts) > 1:
            problems.append(f"the instructions are too alike (diversity {diversity:.2f})")
        return Assessment(
            (adherence + diversity) / 2,
            "; ".join(problems) or "on topic and varied",
            {"adherence": adherence, "diversity": diversity},
        )

    return as_metric(assess)


def improve_metric(rt: Runtime) -> Callable:
    """Harder than its input while keeping the use case and skills (judged).

    Score = harder / 2 + same use case / 4 + same skills / 4; an unchanged
    rewrite scores 0.
    """
    comparer = dspy.Predict(CompareDifficulty)

    def assess(gold, pred) -> Assessment:
        rewritten = str(pred.improved_instruction)
        if normalize(rewritten) == normalize(gold.instruction):
            return Assessment(0.0, "the rewrite is the original, unchanged", {"harder": 0.0})
        try:
            out = rt.structured(
                comparer,
                "metric:improve",
                "judge",
                use_case=gold.use_case,
                skills=list(gold.skills),
                original=gold.instruction,
                rewritten=rewritten,
            )
        except StepParseError:
            return Assessment(0.0, "the judge could not compare the rewrite", {})
        parts = {k: float(bool(getattr(out, k))) for k in ("harder", "same_use_case", "same_skills")}
        problems = [
            f"it is not {k.replace('_', ' ')}" if k != "harder" else "it is not harder"
            for k, v in parts.items()
            if not v
        ]
        score = parts["harder"] / 2 + parts["same_use_case"] / 4 + parts["same_skills"] / 4
        return Assessment(score, "; ".join(problems) or "harder, same use case and skills", parts)

    return as_metric(assess)


def judge_metric() -> Callable:
    """Agreement with a known preference, in both presentation orders.

    Score = share of the two orders in which the reference outscored its
    degraded copy; a judge swayed by position gets at most 0.5.
    """

    def assess(gold, pred) -> Assessment:
        agreement, consistent, ties = judge_agreement(pred.scores)
        parts = {"agreement": agreement, "consistent": float(consistent), "ties": float(ties)}
        if agreement == 1:
            return Assessment(1.0, "preferred the better answer in both orders", parts)
        if not consistent:
            advice = "the verdict flipped when the answers swapped places: judge content, not position"
        else:
            advice = (
                f"scored an answer that is {DEGRADATION_WORDS.get(gold.degradation, gold.degradation)} "
                "as high as or higher than a sound one"
            )
        return Assessment(agreement, advice, parts)

    return as_metric(assess)
