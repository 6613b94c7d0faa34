"""The metadata pool: seeds' own metadata plus mixed-and-matched pairs.

CodecLM (A.3) grows the pool to 200 by pairing a use case from one seed with
skills drawn, without replacement, from all seeds' skills, then removes
implausible pairs by hand. ``mix_and_match`` is the pure, seeded sampler;
``MetadataChecker`` is the LLM plausibility check that replaces the manual one.
"""

from __future__ import annotations

import random

import dspy

from codeclm_dspy.engine.runtime import AsyncStep, Runtime
from codeclm_dspy.pipeline.records import Metadata
from codeclm_dspy.steps import CHECK_METADATA
from signatures import CheckMetadata


def mix_and_match(
    encoded: list[Metadata],
    size: int,
    max_skills: int,
    rng: random.Random,
    *,
    drawn: list[Metadata] = (),
    accepted: int = 0,
) -> list[Metadata]:
    """New metadata until the pool (``encoded`` + accepted mixes + new) reaches ``size``.

    Each new entry takes one seed's use case and 1..``max_skills`` skills
    sampled without replacement from the union of every seed's skills.
    Combinations already in the pool, or drawn before, are redrawn, so with
    few seeds the result can be shorter than asked: the caller records the
    shortfall.

    Args:
        encoded: the seeds' own metadata, in a stable order.
        size: the target pool size.
        max_skills: the most skills one entry gets.
        rng: the seeded source of randomness (same seed, same pool).
        drawn: mixes drawn in earlier rounds (accepted or turned down by the
            plausibility check): never drawn again; ids continue after them.
        accepted: how many of ``drawn`` are in the pool.
    """
    needed = size - len(encoded) - accepted
    if needed <= 0 or not encoded:
        return []
    skill_seeds: dict[str, list[str]] = {}
    for meta in encoded:
        for skill in meta.skills:
            skill_seeds.setdefault(skill.lower(), []).extend(meta.seed_ids)
    canonical = {s.lower(): s for m in encoded for s in m.skills}
    skills = sorted(skill_seeds)
    seen = {(m.use_case.lower(), frozenset(s.lower() for s in m.skills)) for m in [*encoded, *drawn]}
    first_id = len(encoded) + len(drawn)
    fresh: list[Metadata] = []
    for _ in range(needed * 20):
        if len(fresh) == needed:
            break
        base = rng.choice(encoded)
        picked = rng.sample(skills, rng.randint(1, min(max_skills, len(skills))))
        key = (base.use_case.lower(), frozenset(picked))
        if key in seen:
            continue
        seen.add(key)
        seed_ids = dict.fromkeys([*base.seed_ids, *(i for s in picked for i in skill_seeds[s])])
        fresh.append(
            Metadata(
                id=f"m{first_id + len(fresh):05d}",
                use_case=base.use_case,
                skills=tuple(canonical[s] for s in picked),
                seed_ids=tuple(seed_ids),
                mixed=True,
            )
        )
    return fresh


def merge_identical(metadata: list[Metadata]) -> tuple[list[Metadata], int]:
    """One entry per (use case, skill set), case-insensitive, keeping every seed id.

    Two seeds that encode alike would send identical decode requests: the
    second's instructions would all come back as duplicates and its share of
    the quota would be lost. Returns the merged list (first occurrence's
    order and wording) and how many entries were folded into another.
    """
    merged: dict[tuple, Metadata] = {}
    for meta in metadata:
        key = (meta.use_case.lower(), frozenset(s.lower() for s in meta.skills))
        if key in merged:
            first = merged[key]
            seed_ids = tuple(dict.fromkeys([*first.seed_ids, *meta.seed_ids]))
            merged[key] = Metadata(first.id, first.use_case, first.skills, seed_ids, first.mixed)
        else:
            merged[key] = meta
    return list(merged.values()), len(metadata) - len(merged)


class MetadataChecker(AsyncStep):
    """Is this (use case, skills) pair one a real request could have?"""

    def __init__(self):
        super().__init__()
        self.check = dspy.Predict(CheckMetadata)

    async def aforward(self, rt: Runtime, meta: Metadata) -> bool:
        out = await rt.astructured(
            self.check,
            CHECK_METADATA.name,
            CHECK_METADATA.role,
            use_case=meta.use_case,
            skills=list(meta.skills),
        )
        return bool(out.plausible)
