"""The stage-by-stage orchestration of one CodecLM run (CodecLM §4, Algorithm 1).

``run_pipeline`` encodes the seeds (or takes user-written metadata), builds
the metadata pool, and then fills the quota: ``num_instructions`` is the
number of *kept pairs*, as in the paper's comparisons at equal data size.
The first round decodes an equal share of basic instructions per metadata
(§5.3); while pairs are missing, later rounds decode more, round-robin over
the pool with fresh rollouts, and instructions go through Self-Rubrics and
Contrastive Filtering only as many at a time as the quota still needs, so
the run never pays for pairs beyond it. Every item is handed to the sink
exactly once: kept, rejected with a reason, or failed with its error; the
returned counts are the cost funnel (``funnel.py``), and they add up.

Every decision depends only on the answers received, never on thread
timing, so a resumed run replays its journal to the same state.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from codeclm_dspy.engine.parallel import pmap, ticked
from codeclm_dspy.engine.retries import as_stop
from codeclm_dspy.errors import StepParseError, first_line
from codeclm_dspy.pipeline.decoder import normalize
from codeclm_dspy.pipeline.funnel import Funnel
from codeclm_dspy.pipeline.metadata_pool import merge_identical, mix_and_match
from codeclm_dspy.pipeline.quality import Gates, QualityRejected
from codeclm_dspy.pipeline.records import (
    Metadata,
    Seed,
    Trajectory,
    kept_row,
    rejected_row,
    trajectory_details,
)
from codeclm_dspy.pipeline.sinks import Sink, failure
from codeclm_dspy.progress import NullProgress, Progress
from codeclm_dspy.secrets import scrub

# Later decode rounds ask for (missing pairs / observed keep rate) new
# instructions; the rate is floored so one round never asks for more than
# this many times the missing pairs (pipeline.max_overdraw bounds the total).
MAX_OVERDRAW = 10


@dataclass
class MetaState:
    """One pool metadata across decode rounds: its calls, ids and rubrics."""

    meta: Metadata
    calls: int = 0  # decode calls so far (each later one is a fresh request)
    next_index: int = 0  # the next instruction id's number
    actions: list | None = None  # None: rubrics not written yet
    rubrics_error: str | None = None


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
) -> dict[str, Any]:
    """Run every stage of ``program`` over ``seeds`` (or ``metadata``); return the funnel counts."""
    p = program.pipeline
    progress = progress or NullProgress()
    gates = program.gates()
    funnel = Funnel(p.max_iterations, judged=p.contrastive_filtering)
    funnel.add("seeds", "total", len(seeds))
    if metadata is None:
        found = encode(program, rt, seeds, sink, funnel, gates, workers, progress)
    else:
        found = given(metadata, sink, funnel, gates)
    unique, merged = merge_identical(found)
    funnel.add("metadata", "merged", merged)
    unique = [Metadata(f"m{k:05d}", m.use_case, m.skills, m.seed_ids) for k, m in enumerate(unique)]
    pool = build_pool(program, rt, unique, sink, funnel, random_seed, workers, progress)
    fill_quota(program, rt, pool, sink, funnel, gates, random_seed, workers, progress)
    return funnel.data


def encode(program, rt, seeds, sink, funnel, gates: Gates, workers, progress) -> list[Metadata]:
    """Seed -> (use case, skills); metadata that is not words is rejected (bad_metadata)."""
    encoded: list[Metadata] = []
    with progress.stage("encode", len(seeds)) as tick:
        for seed, result in pmap(lambda s: ticked(tick, program.encoder, rt, s.instruction), seeds, workers):
            if isinstance(result, Exception):
                funnel.add("seeds", "failed")
                sink.reject(failure("seed", seed.id, "encode", result, instruction=seed.instruction))
                continue
            use_case, skills = result
            if problem := gates.metadata(use_case, skills):
                funnel.add("seeds", "rejected")
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
            funnel.add("seeds", "encoded")
            encoded.append(Metadata("", use_case, skills, (seed.id,)))
    return encoded


def given(metadata: list[Metadata], sink, funnel, gates: Gates) -> list[Metadata]:
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
                    **_meta(meta),
                )
            )
            funnel.add("metadata", "given_rejected")
            continue
        funnel.add("metadata", "given")
        usable.append(meta)
    return usable


def build_pool(program, rt, unique, sink, funnel, random_seed, workers, progress) -> list[Metadata]:
    """The seeds' metadata plus plausible mixes, refilled after the check turns mixes down."""
    p = program.pipeline
    rng = random.Random(f"{random_seed}:pool")
    if len(unique) > p.metadata_pool_size:
        chosen = set(rng.sample(range(len(unique)), p.metadata_pool_size))
        for k, meta in enumerate(unique):
            if k not in chosen:
                funnel.add("metadata", "over_pool_size")
                sink.reject(
                    rejected_row("metadata", meta.id, "rejected", "over_pool_size", "pool", **_meta(meta))
                )
        unique = [m for k, m in enumerate(unique) if k in chosen]
    funnel.add("metadata", "from_seeds", len(unique))
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
        funnel.add("metadata", "mixed_candidates", len(mixed))
        if not p.plausibility_check:
            pool.extend(mixed)
            break
        label = "check metadata" if round_ == 0 else f"check metadata (refill {round_})"
        with progress.stage(label, len(mixed)) as tick:
            for meta, ok in pmap(lambda m: ticked(tick, program.metadata_checker, rt, m), mixed, workers):
                if isinstance(ok, Exception):
                    funnel.add("metadata", "check_failed")
                    sink.reject(failure("metadata", meta.id, "check_metadata", ok, **_meta(meta)))
                elif not ok:
                    funnel.add("metadata", "implausible")
                    sink.reject(
                        rejected_row(
                            "metadata", meta.id, "rejected", "implausible", "check_metadata", **_meta(meta)
                        )
                    )
                else:
                    pool.append(meta)
    funnel.add("metadata", "pool", len(pool))
    funnel.add("metadata", "pool_shortfall", max(0, p.metadata_pool_size - len(pool)))
    return pool


def fill_quota(program, rt, pool, sink, funnel: Funnel, gates: Gates, random_seed, workers, progress) -> None:
    """Decode, improve and filter until ``num_instructions`` pairs are kept or a cap is reached."""
    p = program.pipeline
    quota = p.num_instructions
    funnel.add("instructions", "planned", quota)
    states = [MetaState(meta) for meta in pool]
    buffer: list[tuple[str, MetaState, str]] = []  # decoded, not yet improved and filtered
    seen: set[str] = set()
    cursor, evolved, reason = 0, 0, None
    limit = math.floor(p.max_overdraw * quota)  # instructions improved and filtered, at most
    while funnel.get("instructions", "kept") < quota:
        missing = min(quota - funnel.get("instructions", "kept"), limit - evolved)
        if missing <= 0:
            reason = f"max_overdraw reached ({limit} instructions filtered for {quota} pairs)"
            break
        if not buffer:
            if not states:
                reason = "the metadata pool is empty"
                break
            rounds = funnel.get("decode", "rounds")
            if rounds >= p.max_decode_rounds:
                reason = f"max_decode_rounds reached ({p.max_decode_rounds})"
                break
            if rounds == 0:
                want = quota  # the paper: an equal share per metadata
            else:
                rate = max(funnel.get("instructions", "kept") / max(evolved, 1), 1 / MAX_OVERDRAW)
                want = min(math.ceil(missing / rate), limit - evolved)
            shares = split_evenly(want, len(states))
            plan = [(states[(cursor + k) % len(states)], n) for k, n in enumerate(shares) if n]
            cursor = (cursor + want) % len(states)
            funnel.add("decode", "rounds")
            buffer = decode_round(program, rt, plan, sink, funnel, gates, seen, workers, progress, rounds + 1)
            continue
        wave, buffer = buffer[:missing], buffer[missing:]
        evolved += len(wave)
        evolve_wave(program, rt, wave, sink, funnel, gates, random_seed, workers, progress)
    for traj_id, state, text in buffer:
        funnel.instruction_out("over_quota", "over_quota")
        sink.reject(
            rejected_row(
                "instruction",
                traj_id,
                "rejected",
                "over_quota",
                "quota",
                instruction=text,
                basic_instruction=text,
                **_meta(state.meta),
            )
        )
    for state in states:
        if state.calls == 0:
            funnel.add("metadata", "unused")
            sink.reject(
                rejected_row("metadata", state.meta.id, "rejected", "no_quota", "decode", **_meta(state.meta))
            )
    shortfall = quota - funnel.get("instructions", "kept")
    funnel.add("instructions", "shortfall", shortfall)
    funnel.set("instructions", "shortfall_reason", reason if shortfall else None)


def decode_round(program, rt, plan, sink, funnel, gates: Gates, seen, workers, progress, number):
    """One decode call per planned metadata (and its rubrics, once); return the new instructions."""
    p = program.pipeline
    improves = p.self_rubrics and p.max_iterations > 1

    def prepare(job):
        state, count = job
        call = state.calls
        needs_rubrics = improves and state.actions is None
        return rt.both(
            lambda: program.decoder.write(rt, state.meta, count, call=call),
            (lambda: _rubrics(program, rt, state.meta)) if needs_rubrics else (lambda: None),
        )

    added = []
    with progress.stage(f"decode + rubrics (round {number})", len(plan)) as tick:
        results = pmap(lambda j: ticked(tick, prepare, j), plan, workers)
    for (state, count), result in results:
        funnel.add("decode", "calls")
        call, state.calls = state.calls, state.calls + 1
        if isinstance(result, Exception):
            funnel.add("decode", "failed")
            row = failure(
                "decode",
                f"{state.meta.id}-d{call:02d}",
                _stage_of(result, "decode"),
                result,
                requested=count,
                **_meta(state.meta),
            )
            sink.reject(row)
            continue
        (texts, discarded), rubrics = result
        if rubrics is not None:
            state.actions, state.rubrics_error = rubrics
            if state.rubrics_error:
                funnel.add("metadata", "rubrics_failed")
        outputs = [(t, None) for t in texts] + list(discarded)
        funnel.add("instructions", "generated", len(outputs))
        for text, why in outputs:
            traj_id = f"{state.meta.id}-{state.next_index:03d}"
            state.next_index += 1
            problem = gates.instruction(text) if why is None else None
            if why is None and normalize(text) in seen:
                why = "duplicate"
            if why == "duplicate":
                funnel.instruction_out("duplicates", "duplicate")
            elif why is not None or problem is not None:
                funnel.instruction_out("rejected", why or problem.reason)
            else:
                seen.add(normalize(text))
                added.append((traj_id, state, text))
                continue
            detail = {"gate_detail": problem.detail} if problem else {}
            sink.reject(
                rejected_row(
                    "instruction",
                    traj_id,
                    "rejected",
                    why or problem.reason,
                    "decode",
                    instruction=text,
                    basic_instruction=text,
                    **detail,
                    **_meta(state.meta),
                )
            )
    return added


def _rubrics(program, rt, meta: Metadata) -> tuple[list, str | None]:
    """The metadata's actions, or none and why: a rubric failure keeps its instructions."""
    try:
        return program.rubric_writer(rt, meta, program.pipeline.num_rubrics), None
    except Exception as exc:
        if as_stop(exc) is not None:
            raise
        return [], scrub(first_line(exc))


def evolve_wave(
    program, rt, wave, sink, funnel: Funnel, gates: Gates, random_seed, workers, progress
) -> None:
    """Self-Rubrics + Contrastive Filtering for each instruction of the wave."""
    p = program.pipeline

    def evolve(job):
        traj_id, state, text = job
        traj = Trajectory(traj_id, state.meta, text)
        note = {"rubrics_error": state.rubrics_error} if state.rubrics_error else {}
        try:
            rng = random.Random(f"{random_seed}:{traj.id}")
            source = program.evolve(rt, traj, state.actions or [], rng, gates=gates, on_attempt=sink.progress)
        except QualityRejected as exc:
            funnel.trajectory(traj, None, "refused_rewrite" if exc.stage == "improve" else "rejected")
            funnel.instruction_out("rejected", exc.problem.reason)
            sink.reject(
                rejected_row(
                    "instruction",
                    traj.id,
                    "rejected",
                    exc.problem.reason,
                    exc.stage,
                    gate_detail=exc.problem.detail,
                    **note,
                    **trajectory_details(traj),
                )
            )
            return None
        except Exception as exc:
            if as_stop(exc) is not None:
                raise
            funnel.trajectory(traj, None, "failed")
            funnel.instruction_out("failed", "parse_error" if isinstance(exc, StepParseError) else "error")
            stage = _stage_of(exc, "contrastive_filtering")
            sink.reject(failure("instruction", traj.id, stage, exc, **note, **trajectory_details(traj)))
            return None
        if source is None:
            funnel.trajectory(traj, None, "dropped")
            funnel.instruction_out("dropped", "within_threshold")
            sink.reject(
                rejected_row(
                    "instruction",
                    traj.id,
                    "rejected",
                    "within_threshold",
                    "contrastive_filtering",
                    threshold=p.threshold,
                    **note,
                    **trajectory_details(traj),
                )
            )
            return None
        funnel.trajectory(traj, source, "kept")
        funnel.add("instructions", "kept")
        funnel.add("instructions", f"kept_{source}")
        sink.keep(kept_row(traj, source))
        return source

    with progress.stage("self-rubrics + filtering", len(wave)) as tick:
        for _job, result in pmap(lambda j: ticked(tick, evolve, j), wave, workers):
            if isinstance(result, Exception):  # only a bug in our own code lands here
                raise result


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` near-equal shares, larger shares first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _meta(meta: Metadata) -> dict[str, Any]:
    return {
        "use_case": meta.use_case,
        "skills": list(meta.skills),
        "seed_ids": list(meta.seed_ids),
        "mixed": meta.mixed,
        "metadata_id": meta.id,
    }


def _stage_of(exc: Exception, default: str) -> str:
    return exc.step if isinstance(exc, StepParseError) else default
