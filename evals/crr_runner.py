"""``codeclm eval crr``: measure CRR on a benchmark with the run engine.

Each eval instruction is answered by the target and the strong model (the
config's roles), and the judge role scores the two answers in both orders
with the same pairwise 1-10 prompt Contrastive Filtering uses. The verdict
rule and the interval are in ``evals.crr``.

An evaluation is a run like ``generate``: every call goes through the call
engine, so it is journaled, cached, budgeted and resumable (run the same
command again), and its directory holds:

    verdicts.jsonl  per item: both answers, the judge's scores, the verdict
    failed.jsonl    items that could not be judged, with their error
    manifest.json   W/T/L, CRR and its interval, models, usage, status
    state.sqlite    the call journal and item outcomes
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from codeclm_dspy.config import Config
from codeclm_dspy.contrastive_filtering import ContrastiveFilter
from codeclm_dspy.errors import status_of
from codeclm_dspy.generate import package_versions, utc_now
from codeclm_dspy.progress import NullProgress, Progress
from codeclm_dspy.routing import build_lms, check_role
from codeclm_dspy.run_dir import RunDir
from codeclm_dspy.runner import failure, pmap
from codeclm_dspy.runtime import Runtime
from codeclm_dspy.secrets import scrub
from codeclm_dspy.usage import UsageMeter, usage_report
from evals.benchmarks import Item, load_benchmark
from evals.crr import CRRResult, crr, verdict

VERDICTS, FAILED = "verdicts.jsonl", "failed.jsonl"


def judge_item(rt: Runtime, judge: ContrastiveFilter, item: Item) -> dict[str, Any]:
    """Both answers, both judge orders and the target's verdict for one item."""
    strong, target = rt.both(
        lambda: rt.plain("strong", "respond_strong", item.text).text,
        lambda: rt.plain("target", "respond_target", item.text).text,
    )
    scores = judge.score(rt, item.text, strong, target)
    tf, sf = scores["target_first"], scores["strong_first"]
    return {
        "id": item.id,
        "instruction": item.text,
        "category": item.category,
        "strong_response": strong,
        "target_response": target,
        "judge_scores": scores,
        "verdict": verdict((tf["target"], tf["strong"]), (sf["target"], sf["strong"])),
    }


def run_crr(
    config: Config,
    benchmark: str | Path,
    out: str | Path,
    *,
    limit: int | None = None,
    confidence: float = 0.95,
    judge: ContrastiveFilter | None = None,
    progress: Progress | None = None,
) -> CRRResult | None:
    """Answer, judge and score a benchmark; write the evaluation directory.

    Args:
        config: the strong, target and judge roles, and the engine settings.
        benchmark: a benchmark file, saved dataset or hub id (``load_benchmark``).
        out: the evaluation directory: new, or an earlier one to resume it.
        limit: evaluate only the first ``limit`` items (a subset).
        judge: a (compiled) judge module; the default prompt if None.

    Returns:
        The result, or None when no item could be judged.

    Raises:
        CodecLMError: bad benchmark, config or directory (nothing written),
            or ``RunStopped`` when a budget or the provider stopped it.
    """
    items = load_benchmark(benchmark)[:limit]
    judge = judge or ContrastiveFilter()
    for name, role in config.models.roles().items():
        check_role(name, role)
    run_dir = RunDir(out, _identity(config, items, judge))
    rt = Runtime(build_lms(config, state=run_dir.state, meter=UsageMeter(), check=False),
                 config.engine.parse_retries, config.engine.workers)  # fmt: skip
    progress = progress or NullProgress()
    clock = time.monotonic()
    manifest: dict[str, Any] = {
        "kind": "crr",
        "status": "running",
        "started_at": run_dir.state.get_meta("started_at") or utc_now(),
        "benchmark": str(benchmark),
        "items": len(items),
        "config": config.public_dict(),
        "models": {n: {"model": r.model, "api_base": r.api_base} for n, r in config.models.roles().items()},
        "packages": package_versions(),
    }
    run_dir.state.set_meta("started_at", manifest["started_at"])

    def one(item: Item):
        try:
            row = judge_item(rt, judge, item)
        finally:
            tick()
        run_dir.state.put_item("eval", item.id, "judged", "judge", 2, row)
        return row

    try:
        with progress.stage("crr: answer + judge", len(items)) as tick:
            results = pmap(one, items, config.engine.workers)
    except BaseException as exc:
        status = status_of(exc)
        _finish(run_dir, rt, {**manifest, "status": status, "error": scrub(f"{type(exc).__name__}: {exc}")},
                clock)  # fmt: skip
        raise
    verdicts = []
    for item, result in results:
        if isinstance(result, Exception):
            row = failure("eval", item.id, "crr", result, instruction=item.text)
            run_dir.state.put_item("eval", item.id, "failed", "crr", 0, row)
        else:
            verdicts.append(result["verdict"])
    result = crr(verdicts, confidence=confidence) if verdicts else None
    summary = {"judged": len(verdicts), "failed": len(items) - len(verdicts)}
    _finish(run_dir, rt, {**manifest, "status": "complete", "counts": summary,
                          "result": result.as_dict() if result else None}, clock)  # fmt: skip
    return result


def _finish(run_dir: RunDir, rt: Runtime, manifest: dict[str, Any], clock: float) -> None:
    judged = run_dir.state.export(run_dir.path / VERDICTS, ("judged",))
    failed = run_dir.state.export(run_dir.path / FAILED, ("failed",))
    run_dir.write_manifest({
        **manifest,
        "verdict_rows": judged,
        "failed_rows": failed,
        "finished_at": utc_now(),
        "wall_time_s": round(time.monotonic() - clock, 3),
        "usage": usage_report(run_dir.state.usage_rows()),
        "this_session": rt.meter.session(),
    })  # fmt: skip
    run_dir.close()
    rt.close()


def _identity(config: Config, items: list[Item], judge: ContrastiveFilter) -> dict[str, Any]:
    blob = json.dumps([[i.id, i.text] for i in items], ensure_ascii=False)
    state = json.dumps(judge.dump_state(), sort_keys=True, default=str)
    result = config.result_dict()
    return {
        "kind": "crr",
        "models": result["models"],
        "benchmark": hashlib.sha256(blob.encode()).hexdigest(),
        "judge": hashlib.sha256(state.encode()).hexdigest(),
    }
