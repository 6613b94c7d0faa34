"""Held-out scores of a step, before and after compiling, with every item accounted for.

Not ``dspy.Evaluate``: it turns any exception into the failure score, which
would report a budget stop as a bad prompt. Here a stop stops, an example the
step fails on scores 0 and is listed as failed with its error, and the rest
carry their score, feedback and parts.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

import dspy

from codeclm_dspy.engine.parallel import pmap
from codeclm_dspy.secrets import scrub


def score_examples(
    student: dspy.Module,
    examples: list[dspy.Example],
    metric: Callable,
    workers: int,
    tick: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Run ``student`` on each example and assess it with ``metric.assess``.

    Returns:
        ``mean`` (failures count as 0), ``parts`` (mean of each part of the
        score), ``ci95`` (normal interval of the mean, None below two
        items), ``n``, ``failed`` and per-item ``items``.

    Raises:
        RunStopped: a budget or the provider stopped the compile.
    """

    def one(example: dspy.Example):
        try:
            return metric.assess(example, student(**example.inputs()))
        finally:
            tick()

    items = []
    for example, result in pmap(one, examples, workers):
        if isinstance(result, Exception):
            error = scrub(f"{type(result).__name__}: {result}")
            items.append({"id": example.get("id"), "score": 0.0, "failed": error})
        else:
            items.append(
                {
                    "id": example.get("id"),
                    "score": round(result.score, 4),
                    "feedback": result.feedback,
                    "parts": result.parts,
                }
            )
    return summarize(items)


def summarize(items: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [i["score"] for i in items]
    mean = statistics.fmean(scores) if scores else 0.0
    half = 1.96 * statistics.stdev(scores) / math.sqrt(len(scores)) if len(scores) > 1 else None
    scored = [i["parts"] for i in items if "parts" in i]
    names = sorted({name for parts in scored for name in parts})
    return {
        "mean": round(mean, 4),
        # what the score is made of, over the items that were scored
        "parts": {n: round(statistics.fmean(p.get(n, 0.0) for p in scored), 4) for n in names},
        "ci95": None if half is None else [round(max(0.0, mean - half), 4), round(min(1.0, mean + half), 4)],
        "n": len(items),
        "failed": sum("failed" in i for i in items),
        "items": items,
    }
