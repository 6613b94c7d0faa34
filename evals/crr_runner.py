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
from collections import Counter
from pathlib import Path
from typing import Any

import dspy

from codeclm_dspy.config import Config
from codeclm_dspy.engine.parallel import pmap
from codeclm_dspy.pipeline.quality import Gates
from codeclm_dspy.pipeline.sinks import failure
from codeclm_dspy.progress import NullProgress, Progress
from codeclm_dspy.runs.session import RunSession
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
    progress = progress or NullProgress()
    judge_role = config.models.judge_role()
    base = {
        "kind": "crr",
        "benchmark": str(benchmark),
        "items": len(items),
        "judge_model": judge_role.model,
        "judge_temperature": judge_role.temperature,
        "self_judged": same is not None,
        "self_judged_as": same,
    }

    def closing(session: RunSession) -> dict[str, Any]:
        path = session.run_dir.path
        return {
            "verdict_rows": session.state.export(path / VERDICTS, ("judged",)),
            "failed_rows": session.state.export(path / FAILED, ("failed",)),
        }

    with RunSession(
        config, out, _identity(config, items, evaluator), kind="crr", manifest=base, closing=closing
    ) as session:
        rt, state = session.rt, session.state

        def one(item: Item) -> tuple[str, dict[str, Any]]:
            try:
                status, row = judge_item(rt, evaluator, gates, item)
            finally:
                tick()
            state.put_item("eval", item.id, status, row.get("stage", "judge"), 2, row)
            return status, row

        with progress.stage("crr: answer + judge", len(items)) as tick:
            results = pmap(one, items, config.engine.workers)
        verdicts, reasons, gated = [], Counter(), Counter()
        for item, result in results:
            if isinstance(result, Exception):
                result = ("failed", failure("eval", item.id, "crr", result, instruction=item.text))
                state.put_item("eval", item.id, "failed", "crr", 0, result[1])
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
        session.end("complete", counts=counts, **result.as_dict())
    return result


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
