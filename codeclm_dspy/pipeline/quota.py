"""Filling the quota: ``num_instructions`` kept pairs (CodecLM §4.1-4.3, §5.3).

The paper compares methods at the same number of pairs, so the quota counts
kept pairs, not planned instructions. The first round decodes an equal share
of basic instructions per metadata (§5.3); while pairs are missing, later
rounds decode more, round-robin over the pool with fresh rollouts, and
instructions go through Self-Rubrics and Contrastive Filtering only as many
at a time as the quota still needs, so the run never pays for pairs beyond
it. ``pipeline.max_decode_rounds`` and ``max_overdraw`` bound the tries; a
shortfall is reported with its reason.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from codeclm_dspy.engine.parallel import apmap, aticked
from codeclm_dspy.engine.retries import as_stop
from codeclm_dspy.errors import StepParseError, first_line
from codeclm_dspy.key_index import KeyIndex
from codeclm_dspy.pipeline.funnel import Funnel
from codeclm_dspy.pipeline.quality import Gates, QualityRejected
from codeclm_dspy.pipeline.records import (
    Metadata,
    Trajectory,
    kept_row,
    metadata_details,
    rejected_row,
    trajectory_details,
)
from codeclm_dspy.pipeline.sinks import failure, stage_of
from codeclm_dspy.pipeline.text import duplicate_key
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


def fill_quota(program, rt, pool, sink, funnel: Funnel, gates: Gates, random_seed, workers, progress) -> None:
    """Decode, improve and filter until ``num_instructions`` pairs are kept or a cap is reached."""
    p = program.pipeline
    quota = p.num_instructions
    funnel.instructions.planned = quota
    states = [MetaState(meta) for meta in pool]
    buffer: list[tuple[str, MetaState, str]] = []  # decoded, not yet improved and filtered
    seen = KeyIndex()  # every decoded instruction's duplicate key, at 8 bytes each
    kept = KeyIndex()  # every kept instruction's, after Self-Rubrics rewrote it
    cursor, evolved, reason = 0, 0, None
    limit = math.floor(p.max_overdraw * quota)  # instructions improved and filtered, at most
    while funnel.instructions.kept < quota:
        missing = min(quota - funnel.instructions.kept, limit - evolved)
        if missing <= 0:
            reason = f"max_overdraw reached ({limit} instructions filtered for {quota} pairs)"
            break
        if not buffer:
            if not states:
                s = funnel.seeds  # why, when it was the seeds: their reasons are in rejected.jsonl
                why = f" ({s.failed} seeds failed, {s.rejected} rejected)" if s.failed or s.rejected else ""
                reason = f"the metadata pool is empty{why}"
                break
            rounds = funnel.decode.rounds
            if rounds >= p.max_decode_rounds:
                reason = f"max_decode_rounds reached ({p.max_decode_rounds})"
                break
            if rounds == 0:
                want = quota  # the paper: an equal share per metadata
            else:
                rate = max(funnel.instructions.kept / max(evolved, 1), 1 / MAX_OVERDRAW)
                want = min(math.ceil(missing / rate), limit - evolved)
            shares = split_evenly(want, len(states))
            plan = [(states[(cursor + k) % len(states)], n) for k, n in enumerate(shares) if n]
            cursor = (cursor + want) % len(states)
            funnel.decode.rounds += 1
            buffer = decode_round(program, rt, plan, sink, funnel, gates, seen, workers, progress, rounds + 1)
            continue
        started = evolve_stream(
            program, rt, buffer, limit - evolved, sink, funnel, gates, kept, random_seed, workers, progress
        )
        evolved += started
        buffer = buffer[started:]
    # left decoded but never filtered: the quota was met first, or max_overdraw
    # stopped the loop (the only cap that can leave decoded instructions behind)
    left_over = "over_quota" if reason is None else "max_overdraw"
    for traj_id, state, text in buffer:
        funnel.left_over(left_over)
        sink.reject(
            rejected_row(
                "instruction",
                traj_id,
                "rejected",
                left_over,
                "quota",
                instruction=text,
                basic_instruction=text,
                **metadata_details(state.meta),
            )
        )
    for state in states:
        if state.calls == 0:
            funnel.metadata.unused += 1
            sink.reject(
                rejected_row(
                    "metadata",
                    state.meta.id,
                    "rejected",
                    "no_quota",
                    "decode",
                    **metadata_details(state.meta),
                )
            )
    funnel.instructions.settle(reason)


def decode_round(program, rt, plan, sink, funnel: Funnel, gates: Gates, seen, workers, progress, number):
    """One decode call per planned metadata (and its rubrics, once); return the new instructions."""
    p = program.pipeline
    improves = p.self_rubrics and p.max_iterations > 1

    async def prepare(job):
        state, count = job
        call = state.calls
        written = program.decoder.write(rt, state.meta, count, call=call)
        if not improves or state.actions is not None:  # no rubrics to write
            return await written, None
        return await rt.aboth(written, _rubrics(program, rt, state.meta))

    added = []
    with progress.stage(f"decode + rubrics (round {number})", len(plan)) as tick:
        results = apmap(lambda j: aticked(tick, prepare(j)), plan, workers)
    for (state, count), result in results:
        funnel.decode.calls += 1
        call, state.calls = state.calls, state.calls + 1
        if isinstance(result, Exception):
            funnel.decode.failed += 1
            row = failure(
                "decode",
                f"{state.meta.id}-d{call:02d}",
                stage_of(result, "decode"),
                result,
                requested=count,
                **metadata_details(state.meta),
            )
            sink.reject(row)
            continue
        (texts, discarded), rubrics = result
        if rubrics is not None:
            state.actions, state.rubrics_error = rubrics
            if state.rubrics_error:
                funnel.metadata.rubrics_failed += 1
        outputs = [(t, None) for t in texts] + list(discarded)
        funnel.instructions.generated += len(outputs)
        for text, why in outputs:
            traj_id = f"{state.meta.id}-{state.next_index:03d}"
            state.next_index += 1
            problem = gates.instruction(text) if why is None else None
            key = duplicate_key(text) if why is None else None  # only a fresh output is checked
            if key is not None and key in seen:
                why = "duplicate"
            if why == "duplicate":
                funnel.duplicate()
            elif why is not None or problem is not None:
                funnel.reject(why or problem.reason)
            else:
                seen.add(key)
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
                    **metadata_details(state.meta),
                )
            )
    return added


async def _rubrics(program, rt, meta: Metadata) -> tuple[list, str | None]:
    """The metadata's actions, or none and why: a rubric failure keeps its instructions."""
    try:
        return await program.rubric_writer.acall(rt, meta, program.pipeline.num_rubrics), None
    except Exception as exc:
        if as_stop(exc) is not None:
            raise
        return [], scrub(first_line(exc))


def evolve_stream(
    program, rt, buffer, room: int, sink, funnel: Funnel, gates: Gates, kept, random_seed, workers, progress
) -> int:
    """Self-Rubrics + Contrastive Filtering for the buffer's instructions, in order; how many started.

    Instructions stream: the next one starts as soon as one finishes, while
    the pairs kept plus those in flight are fewer than the quota (and fewer
    than ``room`` have started), so the run never pays for a pair beyond it.
    Which instructions start does not depend on timing: each one's outcome
    is its own, and instruction n+1 starts exactly when fewer than the quota
    were kept among the first n, as if waves of the missing count had run.

    ``kept`` holds the duplicate keys of the instructions kept so far: two
    basic instructions are never alike (``decode_round``), but Self-Rubrics
    may rewrite two of them into one, and a dataset holds it once. Of two
    such pairs the one that finishes first is kept, so only then does an
    outcome depend on timing.
    """
    p = program.pipeline
    quota = p.num_instructions

    def admit(started: int, in_flight: int) -> bool:
        return started < room and funnel.instructions.kept + in_flight < quota

    async def evolve(job):
        traj_id, state, text = job
        traj = Trajectory(traj_id, state.meta, text)
        note = {"rubrics_error": state.rubrics_error} if state.rubrics_error else {}

        def turn_down(reason: str, stage: str, **evidence) -> None:
            row = rejected_row("instruction", traj.id, "rejected", reason, stage, **evidence)
            sink.reject({**row, **note, **trajectory_details(traj)})

        try:
            rng = random.Random(f"{random_seed}:{traj.id}")
            source = await program.evolve(
                rt, traj, state.actions or [], rng, gates=gates, on_attempt=sink.progress
            )
        except QualityRejected as exc:
            funnel.trajectory(traj, None, "refused_rewrite" if exc.stage == "improve" else "rejected")
            funnel.reject(exc.problem.reason)
            turn_down(exc.problem.reason, exc.stage, gate_detail=exc.problem.detail)
            return None
        except Exception as exc:
            if as_stop(exc) is not None:
                raise
            funnel.trajectory(traj, None, "failed")
            funnel.fail("parse_error" if isinstance(exc, StepParseError) else "error")
            stage = stage_of(exc, "contrastive_filtering")
            sink.reject(failure("instruction", traj.id, stage, exc, **note, **trajectory_details(traj)))
            return None
        if source is None:
            funnel.trajectory(traj, None, "dropped")
            funnel.drop("within_threshold")
            turn_down("within_threshold", "contrastive_filtering", threshold=p.threshold)
            return None
        key = duplicate_key(traj.attempts[-1].instruction)
        if key in kept:  # no await since the check: no other item can keep it in between
            funnel.trajectory(traj, None, "rejected")
            funnel.reject("duplicate")
            turn_down(
                "duplicate", "contrastive_filtering", gate_detail="a rewrite equal to a kept instruction"
            )
            return None
        kept.add(key)
        funnel.trajectory(traj, source, "kept")
        funnel.keep(source)
        sink.keep(kept_row(traj, source), trajectory_details(traj))
        return source

    with progress.stage("self-rubrics + filtering", min(len(buffer), room)) as tick:
        results = apmap(lambda j: aticked(tick, evolve(j)), buffer, workers, admit=admit)
    for _job, result in results:
        if isinstance(result, Exception):  # only a bug in our own code lands here
            raise result
    return len(results)


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` near-equal shares, larger shares first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
