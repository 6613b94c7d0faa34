"""The stage-by-stage orchestration of one CodecLM run.

``run_pipeline`` walks the stages in order (encode, pool, decode + rubrics,
evolve), fans each stage out over a thread pool, and hands every finished
item to a sink exactly once: kept, rejected with a reason, or failed with its
error. The returned counts are the cost funnel, and they add up: every seed,
metadata and instruction appears in exactly one outcome.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from codeclm_dspy.decoder import normalize
from codeclm_dspy.errors import ProviderStopped, RunStopped, StepParseError
from codeclm_dspy.metadata_pool import mix_and_match
from codeclm_dspy.progress import NullProgress, Progress
from codeclm_dspy.records import Metadata, Seed, Trajectory, kept_row, rejected_row, trajectory_details
from codeclm_dspy.retries import stops_the_run
from codeclm_dspy.secrets import scrub


class Sink(Protocol):
    """Where items go: their progress as they move, their outcome once."""

    def keep(self, row: dict[str, Any]) -> None: ...
    def reject(self, row: dict[str, Any]) -> None: ...
    def progress(self, traj: Trajectory) -> None: ...


class MemorySink:
    """Collects rows in lists (for the Python API and tests)."""

    def progress(self, traj: Trajectory) -> None:
        pass

    def __init__(self) -> None:
        self.kept: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def keep(self, row: dict[str, Any]) -> None:
        with self._lock:
            self.kept.append(row)

    def reject(self, row: dict[str, Any]) -> None:
        with self._lock:
            self.rejected.append(row)


def as_stop(exc: BaseException) -> RunStopped | None:
    """The run-stopping form of an error, or None if it fails only its item."""
    if isinstance(exc, RunStopped):
        return exc
    if stops_the_run(exc):
        return ProviderStopped(
            f"the provider stopped the run ({type(exc).__name__}: {scrub(str(exc))}); "
            "everything so far is saved; fix the cause and run the same command again to resume"
        )
    return None


def pmap(fn: Callable, items: Iterable, workers: int) -> list[tuple[Any, Any]]:
    """``[(item, result_or_exception)]`` in input order.

    An error that stops the run (a budget, a dead provider) is raised once
    every item already started has finished, and items not yet started are
    skipped, so nothing is recorded as failed for a reason outside it.
    """
    items = list(items)
    stopped: list[RunStopped] = []

    def safe(item):
        if stopped:
            return None
        try:
            return fn(item)
        except Exception as exc:
            stop = as_stop(exc)
            if stop is None:
                return exc  # recorded as this item's failure, not lost
            stopped.append(stop)
            return None

    if workers <= 1 or len(items) <= 1:
        results = [(item, safe(item)) for item in items]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            try:
                results = list(zip(items, pool.map(safe, items), strict=True))
            except KeyboardInterrupt:
                # Ctrl-C: queued items return at once, calls in flight finish
                # and are journaled, then the interrupt goes on up.
                stopped.append(RunStopped("interrupted"))
                raise
    if stopped:
        raise stopped[0]
    return results


def failure(kind: str, item_id: str, stage: str, exc: Exception, **details) -> dict[str, Any]:
    """A rejected.jsonl row for an item that failed with an error."""
    raw = exc.raw if isinstance(exc, StepParseError) else None
    reason = "parse_error" if isinstance(exc, StepParseError) else "error"
    error = scrub(f"{type(exc).__name__}: {exc}")
    return rejected_row(kind, item_id, "failed", reason, stage, error=error, raw=raw, **details)


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` as ``parts`` near-equal shares, larger shares first."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class Funnel:
    """Thread-safe counters for the manifest's per-stage funnel."""

    def __init__(self, max_iterations: int, judged: bool = True):
        self._lock = threading.Lock()
        self.judged = judged  # False for the ablations without Contrastive Filtering
        self.data: dict[str, Any] = {
            "seeds": {"total": 0, "encoded": 0, "failed": 0},
            "metadata": {
                "from_seeds": 0,
                "over_pool_size": 0,
                "mixed_candidates": 0,
                "implausible": 0,
                "check_failed": 0,
                "unused": 0,
                "pool": 0,
                "decode_failed": 0,
            },
            "instructions": {
                "planned": 0,
                "generated": 0,
                "shortfall": 0,
                "duplicates": 0,
                "failed": 0,
                "kept": 0,
                "kept_strong": 0,
                "kept_target": 0,
                "dropped": 0,
            },
            "iterations": [
                {
                    "iteration": i,
                    "judged": 0,
                    "kept_strong": 0,
                    "kept_target": 0,
                    "sent_back": 0,
                    "dropped": 0,
                    "failed": 0,
                }
                for i in range(1, max_iterations + 1)
            ],
        }

    def add(self, section: str, key: str, n: int = 1) -> None:
        with self._lock:
            self.data[section][key] += n

    def trajectory(self, traj: Trajectory, source: str | None, failed: bool) -> None:
        """Count each filter round of a finished instruction."""
        if not self.judged:
            return  # an ablation without Contrastive Filtering: no filter rounds to count
        with self._lock:
            rows = self.data["iterations"]
            for attempt in traj.attempts:
                rows[attempt.iteration - 1]["judged"] += 1
            for attempt in traj.attempts[:-1]:
                rows[attempt.iteration - 1]["sent_back"] += 1
            last = len(traj.attempts)
            if failed:
                rows[min(last, len(rows) - 1)]["failed"] += 1
            elif source is not None:
                rows[last - 1][f"kept_{source}"] += 1
            else:
                rows[last - 1]["dropped"] += 1


def run_pipeline(
    program,
    rt,
    seeds: list[Seed],
    sink: Sink,
    *,
    random_seed: int = 0,
    workers: int = 1,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run every stage of ``program`` over ``seeds``; return the funnel counts."""
    p = program.pipeline
    progress = progress or NullProgress()
    funnel = Funnel(p.max_iterations, judged=p.contrastive_filtering)
    funnel.add("seeds", "total", len(seeds))

    # 1. Encode each seed into (use case, skills).
    encoded: list[Metadata] = []
    with progress.stage("encode", len(seeds)) as tick:
        for seed, result in pmap(lambda s: _ticked(tick, program.encoder, rt, s.instruction), seeds, workers):
            if isinstance(result, Exception):
                funnel.add("seeds", "failed")
                sink.reject(failure("seed", seed.id, "encode", result, instruction=seed.instruction))
                continue
            funnel.add("seeds", "encoded")
            encoded.append(Metadata(f"m{len(encoded):05d}", result[0], result[1], (seed.id,)))

    # 2. The metadata pool: the seeds' own metadata plus plausible mixes.
    rng = random.Random(f"{random_seed}:pool")
    if len(encoded) > p.metadata_pool_size:
        chosen = set(rng.sample(range(len(encoded)), p.metadata_pool_size))
        for i, meta in enumerate(encoded):
            if i not in chosen:
                funnel.add("metadata", "over_pool_size")
                sink.reject(
                    rejected_row("metadata", meta.id, "rejected", "over_pool_size", "pool", **_meta(meta))
                )
        encoded = [m for i, m in enumerate(encoded) if i in chosen]
    funnel.add("metadata", "from_seeds", len(encoded))
    mixed = mix_and_match(encoded, p.metadata_pool_size, p.max_skills_per_metadata, rng)
    funnel.add("metadata", "mixed_candidates", len(mixed))
    pool = list(encoded)
    if p.plausibility_check and mixed:
        with progress.stage("check metadata", len(mixed)) as tick:
            for meta, ok in pmap(lambda m: _ticked(tick, program.metadata_checker, rt, m), mixed, workers):
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
    else:
        pool.extend(mixed)

    # 3. Decode an equal share of basic instructions per metadata, and write
    #    its rubrics/actions once (only needed when there is a second round).
    quotas = split_evenly(p.num_instructions, len(pool)) if pool else []
    funnel.add("instructions", "planned", p.num_instructions if pool else 0)
    work = []
    for meta, quota in zip(pool, quotas, strict=True):
        if quota == 0:
            funnel.add("metadata", "unused")
            sink.reject(rejected_row("metadata", meta.id, "rejected", "no_quota", "decode", **_meta(meta)))
        else:
            work.append((meta, quota))
    funnel.add("metadata", "pool", len(work))

    improves = p.self_rubrics and p.max_iterations > 1

    def prepare(job):
        meta, quota = job
        return rt.both(
            lambda: program.decoder(rt, meta, quota),
            lambda: program.rubric_writer(rt, meta, p.num_rubrics) if improves else [],
        )

    # Light (id, metadata, text, actions) jobs: the Trajectory, which fills up
    # with answers and scores, lives only while its instruction is in flight,
    # so memory does not grow with the number of instructions.
    trajectories: list[tuple[str, Metadata, str, list]] = []
    seen: set[str] = set()
    with progress.stage("decode + rubrics", len(work)) as tick:
        for (meta, quota), result in pmap(lambda j: _ticked(tick, prepare, j), work, workers):
            if isinstance(result, Exception):
                funnel.add("metadata", "decode_failed")
                funnel.add("instructions", "shortfall", quota)
                sink.reject(failure("metadata", meta.id, _stage_of(result, "decode"), result, **_meta(meta)))
                continue
            basics, actions = result
            funnel.add("instructions", "generated", len(basics))
            funnel.add("instructions", "shortfall", quota - len(basics))
            for j, text in enumerate(basics):
                traj = Trajectory(f"{meta.id}-{j:03d}", meta, text)
                if normalize(text) in seen:
                    funnel.add("instructions", "duplicates")
                    sink.reject(
                        rejected_row(
                            "instruction",
                            traj.id,
                            "rejected",
                            "duplicate",
                            "decode",
                            **trajectory_details(traj),
                        )
                    )
                    continue
                seen.add(normalize(text))
                trajectories.append((traj.id, meta, text, actions))

    # 4. Self-Rubrics + Contrastive Filtering, instruction by instruction.
    def evolve(job):
        traj_id, meta, text, actions = job
        traj = Trajectory(traj_id, meta, text)
        try:
            rng = random.Random(f"{random_seed}:{traj.id}")
            source = program.evolve(rt, traj, actions, rng, on_attempt=sink.progress)
        except Exception as exc:
            if as_stop(exc) is not None:
                raise
            funnel.trajectory(traj, None, failed=True)
            funnel.add("instructions", "failed")
            sink.reject(
                failure(
                    "instruction",
                    traj.id,
                    _stage_of(exc, "contrastive_filtering"),
                    exc,
                    **trajectory_details(traj),
                )
            )
            return None
        funnel.trajectory(traj, source, failed=False)
        if source is None:
            funnel.add("instructions", "dropped")
            reason, stage = (
                ("within_threshold", "contrastive_filtering")
                if p.contrastive_filtering
                else ("empty_response", "respond_strong")
            )
            sink.reject(
                rejected_row(
                    "instruction", traj.id, "rejected", reason, stage, threshold=p.threshold,
                    **trajectory_details(traj),
                )
            )  # fmt: skip
        else:
            funnel.add("instructions", "kept")
            funnel.add("instructions", f"kept_{source}")
            sink.keep(kept_row(traj, source))
        return source

    with progress.stage("self-rubrics + filtering", len(trajectories)) as tick:
        for _job, result in pmap(lambda j: _ticked(tick, evolve, j), trajectories, workers):
            if isinstance(result, Exception):  # only a bug in our own code lands here
                raise result
    return funnel.data


def _ticked(tick, fn, *args):
    try:
        return fn(*args)
    finally:
        tick()


def _meta(meta: Metadata) -> dict[str, Any]:
    return {
        "use_case": meta.use_case,
        "skills": list(meta.skills),
        "seed_ids": list(meta.seed_ids),
        "mixed": meta.mixed,
    }


def _stage_of(exc: Exception, default: str) -> str:
    return exc.step if isinstance(exc, StepParseError) else default


def accounting(counts: dict[str, Any], n_seeds: int) -> dict[str, Any]:
    """Check that every seed, metadata and instruction is accounted for once."""
    s, m, i = counts["seeds"], counts["metadata"], counts["instructions"]
    checks = {
        "seeds": s["encoded"] + s["failed"] == n_seeds,
        "metadata": m["from_seeds"] + m["over_pool_size"] == s["encoded"]
        and m["pool"] + m["unused"] + m["implausible"] + m["check_failed"]
        == m["from_seeds"] + m["mixed_candidates"],
        "instructions": i["kept"] + i["dropped"] + i["failed"] + i["duplicates"] == i["generated"],
    }
    return {"balanced": all(checks.values()), **checks}
