"""The stages of one CodecLM run (CodecLM §4, Algorithm 1): encode, pool, then the quota.

``run_pipeline`` encodes the seeds (or takes user-written metadata), builds
the metadata pool, and then fills the quota: ``num_instructions`` is the
number of *kept pairs*, as in the paper's comparisons at equal data size.
The first round decodes an equal share of basic instructions per metadata
(§5.3); while pairs are missing, later rounds decode more, round-robin over
the pool with fresh rollouts, and instructions go through Self-Rubrics and
Contrastive Filtering only as many at a time as the quota still needs, so
the run never pays for pairs beyond it. Every item is handed to the sink
exactly once: kept, rejected with a reason, or failed with its error; the
returned ``Funnel`` is the cost funnel (``funnel.py``), and it adds up.

Items are coroutines on the engine's loop (``engine/parallel.py``'s
``apmap``). Every decision depends only on the answers received, never on
the order they arrive in, so a resumed run replays its journal to the same
state.
"""

from __future__ import annotations

import random

from codeclm_dspy.engine.parallel import apmap, aticked
from codeclm_dspy.pipeline.funnel import Funnel
from codeclm_dspy.pipeline.metadata_pool import merge_identical, mix_and_match
from codeclm_dspy.pipeline.quality import Gates
from codeclm_dspy.pipeline.quota import fill_quota
from codeclm_dspy.pipeline.records import (
    Metadata,
    Seed,
    metadata_details,
    rejected_row,
)
from codeclm_dspy.pipeline.sinks import Sink, failure
from codeclm_dspy.progress import NullProgress, Progress


def run_pipeline(
    program,
    rt,
    seeds: list[Seed],
    sink: Sink,
    *,
    random_seed: int = 0,
    workers: int = 1,
    progress: Progress | None = None,
    metadata: list[Metadata] | None = None,
) -> Funnel:
    """Run every stage of ``program`` over ``seeds`` (or ``metadata``); return the funnel counts."""
    p = program.pipeline
    progress = progress or NullProgress()
    gates = program.gates()
    funnel = Funnel(p.max_iterations, judged=p.contrastive_filtering)
    funnel.seeds.total = len(seeds)
    if metadata is None:
        found = encode(program, rt, seeds, sink, funnel, gates, workers, progress)
    else:
        found = given(metadata, sink, funnel, gates)
    unique, merged = merge_identical(found)
    funnel.metadata.merged += merged
    unique = [Metadata(f"m{k:05d}", m.use_case, m.skills, m.seed_ids) for k, m in enumerate(unique)]
    pool = build_pool(program, rt, unique, sink, funnel, random_seed, workers, progress)
    fill_quota(program, rt, pool, sink, funnel, gates, random_seed, workers, progress)
    return funnel


def encode(program, rt, seeds, sink, funnel: Funnel, gates: Gates, workers, progress) -> list[Metadata]:
    """Seed -> (use case, skills); metadata that is not words is rejected (bad_metadata)."""
    encoded: list[Metadata] = []
    with progress.stage("encode", len(seeds)) as tick:
        encoded_seeds = apmap(
            lambda s: aticked(tick, program.encoder.acall(rt, s.instruction)), seeds, workers
        )
        for seed, result in encoded_seeds:
            if isinstance(result, Exception):
                funnel.seeds.failed += 1
                sink.reject(failure("seed", seed.id, "encode", result, instruction=seed.instruction))
                continue
            use_case, skills = result
            if problem := gates.metadata(use_case, skills):
                funnel.seeds.rejected += 1
                sink.reject(
                    rejected_row(
                        "seed",
                        seed.id,
                        "rejected",
                        problem.reason,
                        "encode",
                        instruction=seed.instruction,
                        use_case=use_case,
                        skills=list(skills),
                        gate_detail=problem.detail,
                    )
                )
                continue
            funnel.seeds.encoded += 1
            encoded.append(Metadata("", use_case, skills, (seed.id,)))
    return encoded


def given(metadata: list[Metadata], sink, funnel: Funnel, gates: Gates) -> list[Metadata]:
    """User-written metadata (the paper's seedless entry), through the same gate."""
    usable = []
    for meta in metadata:
        if problem := gates.metadata(meta.use_case, meta.skills):
            sink.reject(
                rejected_row(
                    "metadata",
                    f"given-{meta.id}",
                    "rejected",
                    problem.reason,
                    "given",
                    gate_detail=problem.detail,
                    **metadata_details(meta),
                )
            )
            funnel.metadata.given_rejected += 1
            continue
        funnel.metadata.given += 1
        usable.append(meta)
    return usable


def build_pool(program, rt, unique, sink, funnel: Funnel, random_seed, workers, progress) -> list[Metadata]:
    """The seeds' metadata plus plausible mixes, refilled after the check turns mixes down."""
    p = program.pipeline
    rng = random.Random(f"{random_seed}:pool")
    if len(unique) > p.metadata_pool_size:
        chosen = set(rng.sample(range(len(unique)), p.metadata_pool_size))
        for k, meta in enumerate(unique):
            if k not in chosen:
                funnel.metadata.over_pool_size += 1
                sink.reject(
                    rejected_row(
                        "metadata", meta.id, "rejected", "over_pool_size", "pool", **metadata_details(meta)
                    )
                )
        unique = [m for k, m in enumerate(unique) if k in chosen]
    funnel.metadata.from_seeds += len(unique)
    pool, drawn = list(unique), []
    for round_ in range(p.max_pool_rounds):
        mixed = mix_and_match(
            unique,
            p.metadata_pool_size,
            p.max_skills_per_metadata,
            rng,
            drawn=drawn,
            accepted=len(pool) - len(unique),
        )
        if not mixed:
            break
        drawn.extend(mixed)
        funnel.metadata.mixed_candidates += len(mixed)
        if not p.plausibility_check:
            pool.extend(mixed)
            break
        label = "check metadata" if round_ == 0 else f"check metadata (refill {round_})"
        with progress.stage(label, len(mixed)) as tick:
            checked = apmap(lambda m: aticked(tick, program.metadata_checker.acall(rt, m)), mixed, workers)
            for meta, ok in checked:
                if isinstance(ok, Exception):
                    funnel.metadata.check_failed += 1
                    sink.reject(failure("metadata", meta.id, "check_metadata", ok, **metadata_details(meta)))
                elif not ok:
                    funnel.metadata.implausible += 1
                    sink.reject(
                        rejected_row(
                            "metadata",
                            meta.id,
                            "rejected",
                            "implausible",
                            "check_metadata",
                            **metadata_details(meta),
                        )
                    )
                else:
                    pool.append(meta)
    funnel.metadata.pool += len(pool)
    funnel.metadata.pool_shortfall += max(0, p.metadata_pool_size - len(pool))
    return pool
