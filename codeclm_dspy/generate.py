"""``generate``: one CodecLM run from a config and seeds to a dataset."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import time
from pathlib import Path
from typing import Any

import datasets

from codeclm_dspy.config import Config
from codeclm_dspy.program import CodecLM
from codeclm_dspy.progress import NullProgress, Progress
from codeclm_dspy.records import Seed
from codeclm_dspy.routing import LMRoles, build_lms
from codeclm_dspy.run_dir import RunDir
from codeclm_dspy.runner import MemorySink, run_pipeline
from codeclm_dspy.runtime import Runtime
from codeclm_dspy.seeds import load_seeds

PACKAGES = ("codeclm-dspy", "dspy", "litellm", "llama_cpp_python", "datasets", "pydantic")


def generate(
    config: Config,
    seeds: list[Seed] | str | Path,
    out: str | Path | None = None,
    *,
    program: CodecLM | None = None,
    lms: LMRoles | None = None,
    progress: Progress | None = None,
) -> datasets.Dataset:
    """Run CodecLM and return the kept pairs as a ``datasets.Dataset``.

    Args:
        config: a validated ``Config`` (see ``load_config``).
        seeds: ``Seed`` objects, or a path to JSONL, CSV or a saved dataset.
        out: a new run directory to stream results into; in memory if None.
        program: a (compiled) ``CodecLM``; a fresh one if None. Its knobs
            are taken from ``config.pipeline``.
        lms: prebuilt role LMs (tests pass scripted ones); built from
            ``config.models`` if None, after checking every role.
        progress: a progress display; silent if None.

    Raises:
        CodecLMError: bad seeds, config, provider or output directory, all
            detected before any file is written, or a provider that stops
            working mid-run (the run directory then says ``failed``).
    """
    if not isinstance(seeds, list):
        seeds = load_seeds(seeds, config.seeds.instruction_field, config.seeds.id_field)
    lms = lms or build_lms(config)
    program = program or CodecLM(config.pipeline)
    program.pipeline = config.pipeline
    rt = Runtime(lms, parse_retries=config.engine.parse_retries)
    run = lambda sink: run_pipeline(  # noqa: E731
        program,
        rt,
        seeds,
        sink,
        random_seed=config.random_seed,
        workers=config.engine.workers,
        progress=progress or NullProgress(),
    )
    if out is None:
        sink = MemorySink()
        run(sink)
        rows = sorted(sink.kept, key=lambda r: r["id"])
        from codeclm_dspy.run_dir import kept_features

        features = kept_features()
        return datasets.Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features)

    run_dir = RunDir(out)
    started, clock = _now(), time.monotonic()
    manifest: dict[str, Any] = {
        "status": "running",
        "started_at": started,
        "random_seed": config.random_seed,
        "config": config.public_dict(),
        "models": {
            name: {"model": role.model, "api_base": role.api_base}
            for name, role in config.models.roles().items()
        },
        "packages": _versions(),
    }
    try:
        counts = run(run_dir)
    except BaseException as exc:
        run_dir.close()
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        run_dir.write_manifest(
            {
                **manifest,
                **_tail(rt, run_dir, clock),
                "status": status,
                "error": f"{type(exc).__name__}: {exc}",
            }
        )
        raise
    run_dir.close()
    dataset = run_dir.save_dataset()
    run_dir.write_manifest(
        {
            **manifest,
            **_tail(rt, run_dir, clock),
            "status": "complete",
            "counts": counts,
            "accounting": accounting(counts, len(seeds)),
        }
    )
    return dataset


def accounting(counts: dict[str, Any], n_seeds: int) -> dict[str, Any]:
    """Check that every item is accounted for exactly once."""
    s, m, i = counts["seeds"], counts["metadata"], counts["instructions"]
    checks = {
        "seeds": s["encoded"] + s["failed"] == n_seeds,
        "metadata": m["from_seeds"] + m["over_pool_size"] == s["encoded"]
        and m["pool"] + m["unused"] + m["implausible"] + m["check_failed"]
        == m["from_seeds"] + m["mixed_candidates"],
        "instructions": i["kept"] + i["dropped"] + i["failed"] + i["duplicates"] == i["generated"],
    }
    return {"balanced": all(checks.values()), **checks}


def _tail(rt: Runtime, run_dir: RunDir, clock: float) -> dict[str, Any]:
    return {
        "finished_at": _now(),
        "wall_time_s": round(time.monotonic() - clock, 3),
        "kept": run_dir.kept_count,
        "rejected_rows": run_dir.rejected_count,
        "parse_failures": rt.meter.parse_report(),
        "usage": rt.meter.report(),
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions
