"""``codeclm eval crr``: measure CRR on a benchmark with the run engine (CodecLM §5.3, A.5).

Each eval instruction is answered by the target and the strong model (the
config's roles), and an independent evaluator (the judge role, temperature 0
unless its section sets one) scores the two answers in both orders with the
paper's final-evaluation prompt; the evaluator, its independence check and
the quality gates on the answers are in ``evals.evaluator``, the verdict
rule and the intervals in ``evals.crr``.

An evaluation is a run like ``generate``: every call goes through the call
engine, so it is journaled, cached, budgeted and resumable (run the same
command again), and its directory holds:

    verdicts.jsonl  per item: both answers, the scores, explanations, the verdict
    failed.jsonl    items that could not be judged, with their reason and error
    manifest.json   CRR both ways with intervals, judge, failures, usage, status
    state.sqlite    the call journal and item outcomes
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dspy

from codeclm_dspy.config import Config
from codeclm_dspy.engine.parallel import pmap
from codeclm_dspy.engine.routing import build_lms, check_role
from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.engine.usage import UsageMeter, usage_report
from codeclm_dspy.errors import status_of
from codeclm_dspy.generate import package_versions, utc_now
from codeclm_dspy.pipeline.quality import Gates
from codeclm_dspy.pipeline.sinks import failure
from codeclm_dspy.progress import NullProgress, Progress
from codeclm_dspy.runs.run_dir import RunDir
from codeclm_dspy.secrets import scrub
from evals.benchmarks import Item, load_benchmark
from evals.crr import CRRReport, report
from evals.evaluator import Evaluator, judge_item, self_judged_check

VERDICTS, FAILED = "verdicts.jsonl", "failed.jsonl"


def run_crr(
    config: Config,
    benchmark: str | Path,
    out: str | Path,
    *,
    limit: int | None = None,
    confidence: float = 0.95,
    judge: dspy.Module | None = None,
    self_judged: bool = False,
    progress: Progress | None = None,
) -> CRRReport:
    """Answer, judge and score a benchmark; write the evaluation directory.

    Args:
        config: the strong, target and judge roles, the quality gates, the
            benchmark fields and the engine settings.
        benchmark: a benchmark file, saved dataset or hub id (``load_benchmark``).
        out: the evaluation directory: new, or an earlier one to resume it.
        limit: evaluate only the first ``limit`` items (a subset).
        judge: the evaluator module (``Evaluator``, or a compiled one with the
            same call); a fresh ``Evaluator`` if None.
        self_judged: allow a judge that is the strong or target model.

    Returns:
        CRR with failures excluded and with failures counted as losses.

    Raises:
        CodecLMError: bad benchmark, config, a self-judged setup not allowed,
            or a bad directory (nothing written); ``RunStopped`` when a budget
            or the provider stopped it.
    """
    fields = config.benchmark
    items = load_benchmark(benchmark, instruction_field=fields.instruction_field, id_field=fields.id_field)[
        :limit
    ]
    same = self_judged_check(config, self_judged)
    evaluator = judge or Evaluator()
    gates = Gates.for_modules(config.quality, evaluator)
    for name, role in config.models.roles().items():
        check_role(name, role)
    run_dir = RunDir(out, _identity(config, items, evaluator), kind="crr")
    rt = Runtime(
        build_lms(config, state=run_dir.state, meter=UsageMeter(), check=False),
        config.engine.parse_retries,
        config.engine.workers,
    )
    progress = progress or NullProgress()
    clock = time.monotonic()
    judge_role = config.models.judge_role()
    manifest: dict[str, Any] = {
        "kind": "crr",
        "status": "running",
        "started_at": run_dir.state.get_meta("started_at") or utc_now(),
        "benchmark": str(benchmark),
        "items": len(items),
        "judge_model": judge_role.model,
        "judge_temperature": judge_role.temperature,
        "self_judged": same is not None,
        "self_judged_as": same,
        "config": config.public_dict(),
        "models": {n: {"model": r.model, "api_base": r.api_base} for n, r in config.models.roles().items()},
        "packages": package_versions(),
    }
    run_dir.state.set_meta("started_at", manifest["started_at"])

    def one(item: Item) -> tuple[str, dict[str, Any]]:
        try:
            status, row = judge_item(rt, evaluator, gates, item)
        finally:
            tick()
        run_dir.state.put_item("eval", item.id, status, row.get("stage", "judge"), 2, row)
        return status, row

    try:
        with progress.stage("crr: answer + judge", len(items)) as tick:
            results = pmap(one, items, config.engine.workers)
    except BaseException as exc:
        status = status_of(exc)
        _finish(
            run_dir, rt, {**manifest, "status": status, "error": scrub(f"{type(exc).__name__}: {exc}")}, clock
        )
        raise
    verdicts, reasons, gated = [], Counter(), Counter()
    for item, result in results:
        if isinstance(result, Exception):
            result = ("failed", failure("eval", item.id, "crr", result, instruction=item.text))
            run_dir.state.put_item("eval", item.id, "failed", "crr", 0, result[1])
        status, row = result
        if status == "failed":
            reasons[row["reason"]] += 1
        else:
            verdicts.append(row["verdict"])
            if row["target_gate"]:
                gated[row["target_gate"]["reason"]] += 1
    result = report(verdicts, reasons, self_judged=same, confidence=confidence)
    counts = {
        "judged": len(verdicts),
        "failed": sum(reasons.values()),
        "failed_by_reason": dict(sorted(reasons.items())),
        "target_gated_by_reason": dict(sorted(gated.items())),
    }
    _finish(run_dir, rt, {**manifest, "status": "complete", "counts": counts, **result.as_dict()}, clock)
    return result


def _finish(run_dir: RunDir, rt: Runtime, manifest: dict[str, Any], clock: float) -> None:
    judged = run_dir.state.export(run_dir.path / VERDICTS, ("judged",))
    failed = run_dir.state.export(run_dir.path / FAILED, ("failed",))
    run_dir.write_manifest(
        {
            **manifest,
            "verdict_rows": judged,
            "failed_rows": failed,
            "finished_at": utc_now(),
            "wall_time_s": round(time.monotonic() - clock, 3),
            "usage": usage_report(run_dir.state.usage_rows()),
            "this_session": rt.meter.session(),
        }
    )
    run_dir.close()
    rt.close()


def _identity(config: Config, items: list[Item], evaluator: dspy.Module) -> dict[str, Any]:
    """What the verdicts depend on: models, gates, the items and the evaluator's prompts and demos."""
    blob = json.dumps([[i.id, i.text] for i in items], ensure_ascii=False)
    state = json.dumps(
        {"module": type(evaluator).__name__, "state": evaluator.dump_state()}, sort_keys=True, default=str
    )
    result = config.result_dict()
    return {
        "kind": "crr",
        "models": result["models"],
        "quality": result["quality"],
        "benchmark": hashlib.sha256(blob.encode()).hexdigest(),
        "evaluator": hashlib.sha256(state.encode()).hexdigest(),
    }
