"""``generate``: one CodecLM run from a config and seeds to a dataset."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import time
from pathlib import Path
from typing import Any

import datasets
import dspy

from codeclm_dspy.config import Config
from codeclm_dspy.engine.routing import build_lms, check_role
from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.engine.usage import UsageMeter, usage_report
from codeclm_dspy.errors import ConfigError, status_of
from codeclm_dspy.pipeline.methods import check_program, make_program, method_name
from codeclm_dspy.pipeline.records import Metadata, Seed
from codeclm_dspy.pipeline.sinks import MemorySink
from codeclm_dspy.progress import NullProgress, Progress
from codeclm_dspy.runs.run_dir import RunDir, kept_features
from codeclm_dspy.secrets import scrub
from codeclm_dspy.seeds import load_metadata, load_seeds

PACKAGES = ("codeclm-dspy", "dspy", "litellm", "llama_cpp_python", "datasets", "pydantic")


def generate(
    config: Config,
    seeds: list[Seed] | str | Path | None,
    out: str | Path | None = None,
    *,
    program: dspy.Module | None = None,
    progress: Progress | None = None,
    program_source: dict[str, Any] | None = None,
    metadata: list[Metadata] | str | Path | None = None,
) -> datasets.Dataset:
    """Run CodecLM and return the kept pairs as a ``datasets.Dataset``.

    Args:
        config: a validated ``Config`` (see ``load_config``).
        seeds: ``Seed`` objects, or a path to JSONL, CSV or a saved dataset.
        out: the run directory: new, or an earlier run's to resume it (only
            the calls it has no answer for are sent). In memory if None.
        program: a (compiled) generator, ``CodecLM`` or a baseline; a fresh
            one for ``config.method`` if None. Its knobs come from ``config``.
        progress: a progress display; silent if None.
        program_source: where a compiled program came from, for the manifest.
        metadata: user-written metadata (``Metadata`` objects or a JSONL /
            CSV file of ``use_case`` + ``skills``) to start from instead of
            seeds: encoding is skipped, as the paper allows. CodecLM and
            WizardLM+ only; ``seeds`` must then be None.

    Raises:
        CodecLMError: bad seeds, config, provider or output directory, all
            detected before any file is written; ``RunStopped`` when a budget
            or the provider stopped the run (saved, resumable).
    """
    if (seeds is None) == (metadata is None):
        raise ConfigError("give either seeds or metadata (--seeds or --metadata), not both or neither")
    if metadata is not None and config.method not in ("codeclm", "wizardlm-plus"):
        raise ConfigError(
            f"--metadata starts CodecLM after encoding; method '{config.method}' has no metadata"
        )
    if metadata is not None and not isinstance(metadata, list):
        metadata = load_metadata(metadata)
    if seeds is None:
        seeds = []
    elif not isinstance(seeds, list):
        seeds = load_seeds(seeds, config.seeds.instruction_field, config.seeds.id_field)
    if program is None:
        program = make_program(config)
    check_program(config, program)
    program.configure(config)
    given = {"metadata": metadata} if metadata is not None else {}
    progress = progress or NullProgress()
    if out is None:
        rt = Runtime(build_lms(config), config.engine.parse_retries, config.engine.workers)
        sink = MemorySink()
        program.run(
            rt,
            seeds,
            sink,
            random_seed=config.random_seed,
            workers=config.engine.workers,
            progress=progress,
            **given,
        )
        rt.close()
        rows = sorted(sink.kept, key=lambda r: r["id"])
        features = kept_features()
        return datasets.Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features)

    for name, role in config.models.roles().items():
        check_role(name, role)  # before the directory exists
    run_dir = RunDir(out, identity(config, seeds, program, metadata), kind="run")
    meter = UsageMeter()
    lms = build_lms(config, state=run_dir.state, meter=meter, check=False)
    rt = Runtime(lms, config.engine.parse_retries, config.engine.workers)
    if hasattr(progress, "status"):
        progress.status = lambda: f"kept {run_dir.kept_live} | {meter.status()}"
    clock = time.monotonic()
    manifest: dict[str, Any] = {
        "status": "running",
        "started_at": run_dir.state.get_meta("started_at") or utc_now(),
        "sessions": run_dir.sessions,
        "method": method_name(config),
        "random_seed": config.random_seed,
        "program": {"sha256": run_dir.state.get_meta("identity")["program"], **(program_source or {})},
        "config": config.public_dict(),
        "models": {n: {"model": r.model, "api_base": r.api_base} for n, r in config.models.roles().items()},
        "packages": package_versions(),
    }
    run_dir.state.set_meta("started_at", manifest["started_at"])
    session_started = time.time()
    try:
        counts = program.run(
            rt,
            seeds,
            run_dir,
            random_seed=config.random_seed,
            workers=config.engine.workers,
            progress=progress,
            **given,
        )
    except BaseException as exc:
        status = status_of(exc)
        run_dir.export()
        tail = _tail(rt, run_dir, clock)
        run_dir.write_manifest(
            {**manifest, **tail, "status": status, "error": scrub(f"{type(exc).__name__}: {exc}")}
        )
        run_dir.close()
        rt.close()
        raise
    stale = run_dir.state.drop_items_before(session_started)
    run_dir.export()
    dataset = run_dir.save_dataset()
    tail = _tail(rt, run_dir, clock)
    checks = program.accounting(counts, len(seeds))
    checks["rows"] = run_dir.kept_count == counts["instructions"]["kept"]  # kept.jsonl agrees
    checks["balanced"] = checks["balanced"] and checks["rows"]
    run_dir.write_manifest(
        {
            **manifest,
            **tail,
            "status": "complete",
            "counts": counts,
            "accounting": checks,
            "stale_items_dropped": stale,
            "cost_funnel": cost_funnel(counts, tail["usage"], program.STAGES),
        }
    )
    run_dir.close()
    rt.close()
    return dataset


def identity(
    config: Config, seeds: list[Seed], program: dspy.Module, metadata: list[Metadata] | None = None
) -> dict[str, Any]:
    """What a run's output depends on; a resumed run must match it."""
    seed_blob = json.dumps([[s.id, s.instruction] for s in seeds], ensure_ascii=False)
    program_blob = json.dumps(program.dump_state(), sort_keys=True, default=str)
    found = {
        "config": config.result_dict(),
        "seeds": hashlib.sha256(seed_blob.encode()).hexdigest(),
        "program": hashlib.sha256(program_blob.encode()).hexdigest(),
    }
    if metadata is not None:
        blob = json.dumps([[m.id, m.use_case, list(m.skills)] for m in metadata], ensure_ascii=False)
        found["metadata"] = hashlib.sha256(blob.encode()).hexdigest()
    return found


def cost_funnel(counts: dict[str, Any], usage: dict[str, Any], stages_of: dict[str, tuple]) -> dict[str, Any]:
    """Items and spend per stage, and spend per kept pair.

    Args:
        stages_of: the generator's ``STAGES`` (stage name -> step labels).
    """
    kept = counts["instructions"]["kept"]
    stages = {}
    for stage, steps in stages_of.items():
        rows = [usage["steps"][s] for s in steps if s in usage["steps"]]
        usd = None if any(r["usd"] is None for r in rows) else sum(r["usd"] for r in rows)
        stages[stage] = {"calls": sum(r["calls"] for r in rows), "tokens": sum(r["tokens"] for r in rows),
                         "usd": usd}  # fmt: skip

    def per_kept(total: dict[str, Any]) -> dict[str, Any] | None:
        if not kept:
            return None
        usd = None if total["usd"] is None else total["usd"] / kept
        return {"calls": total["calls"] / kept, "tokens": total["tokens"] / kept, "usd": usd}

    return {
        "seeds": counts["seeds"]["total"],
        "metadata": counts.get("metadata", {}).get("pool"),
        "basic_instructions": counts["instructions"]["generated"],
        "iterations": counts.get("iterations", []),
        "kept": kept,
        "asked": counts["instructions"].get("planned"),
        "shortfall": counts["instructions"].get("shortfall", 0),
        "shortfall_reason": counts["instructions"].get("shortfall_reason") or counts.get("shortfall_reason"),
        "dropped": counts["instructions"]["dropped"],
        "failed": counts["instructions"]["failed"],
        "not_kept_by_reason": dict(
            sorted((counts.get("not_kept_by_reason") or counts.get("dropped_by_reason") or {}).items())
        ),
        "stages": stages,
        "per_kept_pair": per_kept(usage),  # what this run paid
        "per_kept_pair_standalone": per_kept(usage["standalone"]),  # cache hits counted too
    }


def _tail(rt: Runtime, run_dir: RunDir, clock: float) -> dict[str, Any]:
    meter = rt.meter
    return {
        "finished_at": utc_now(),
        "wall_time_s": round(time.monotonic() - clock, 3),
        "kept": run_dir.kept_count,
        "rejected_rows": run_dir.rejected_count,
        "items": run_dir.state.counts(),
        "parse_failures": meter.parse_report(),
        "usage": usage_report(run_dir.state.usage_rows()),
        "this_session": meter.session(),
    }  # fmt: skip


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions
