"""``generate``: one CodecLM run from a config and seeds to a dataset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dspy

from codeclm_dspy.config import Config
from codeclm_dspy.engine.routing import build_lms
from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.engine.usage import usage_report
from codeclm_dspy.errors import ConfigError
from codeclm_dspy.pipeline.methods import check_program, make_program, method_name
from codeclm_dspy.pipeline.records import Metadata, Seed
from codeclm_dspy.pipeline.sinks import MemorySink
from codeclm_dspy.progress import NullProgress, Progress
from codeclm_dspy.runs.batch_rounds import batch_roles, run_in_rounds
from codeclm_dspy.runs.manifest import cost_funnel
from codeclm_dspy.runs.run_dir import kept_features
from codeclm_dspy.runs.session import RunSession
from codeclm_dspy.seeds import load_metadata, load_seeds

if TYPE_CHECKING:  # imported when a run ends: `codeclm` starts without it (see cli.run)
    import datasets


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
    batched = batch_roles(config)  # a role that cannot be batched is refused before anything is written
    if out is None:
        if batched:
            raise ConfigError("batch mode needs a run directory (--out): batches outlive the process")
        rt = Runtime(build_lms(config), config.engine.parse_retries, config.engine.workers)
        sink = MemorySink()
        try:
            program.run(
                rt,
                seeds,
                sink,
                random_seed=config.random_seed,
                workers=config.engine.workers,
                progress=progress,
                **given,
            )
        finally:
            rt.close()  # its request cache commits what it queued
        import datasets

        rows = sorted(sink.kept, key=lambda r: r["id"])
        features = kept_features()
        return datasets.Dataset.from_dict({k: [r[k] for r in rows] for k in features}, features=features)

    def closing(session: RunSession) -> dict[str, Any]:
        if session.status != "complete":  # a complete run exported before its save
            session.run_dir.export()
        return {
            "kept": session.run_dir.kept_count,
            "rejected_rows": session.run_dir.rejected_count,
            "items": session.state.counts(),
            "parse_failures": session.meter.parse_report(),
        }

    base = {"method": method_name(config), "random_seed": config.random_seed}
    with RunSession(
        config, out, identity(config, seeds, program, metadata), kind="run", manifest=base, closing=closing
    ) as session:
        run_dir = session.run_dir
        session.manifest["program"] = {
            "sha256": session.state.get_meta("identity")["program"],
            **(program_source or {}),
        }
        if hasattr(progress, "status"):
            progress.status = lambda: f"kept {run_dir.kept_live} | {session.meter.status()}"
        counts = run_in_rounds(  # batch mode: passes until no call waits (runs/batch_rounds.py)
            session,
            config,
            lambda: program.run(
                session.rt,
                seeds,
                run_dir,
                random_seed=config.random_seed,
                workers=config.engine.workers,
                progress=progress,
                **given,
            ),
            progress,
        )
        stale = session.state.drop_items_before(session.started)
        run_dir.export()
        dataset = run_dir.save_dataset()
        checks = counts.accounting(len(seeds))
        checks["rows"] = run_dir.kept_count == counts.instructions.kept  # kept.jsonl agrees
        checks["balanced"] = checks["balanced"] and checks["rows"]
        usage = usage_report(session.state.usage_rows())
        results = {
            "counts": counts.to_manifest(),
            "accounting": checks,
            "stale_items_dropped": stale,
            "cost_funnel": cost_funnel(counts, usage, program.STAGES),
        }
        # the card before the manifest, which is written last (a complete run has both)
        run_dir.write_card({**session.manifest, **results, "usage": usage}, dataset)
        session.end("complete", usage=usage, **results)
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
