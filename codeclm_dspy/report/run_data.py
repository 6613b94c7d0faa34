"""A generate run as the report shows it: the funnel, the gaps, the cost, every item.

What CodecLM (§4) does to each seed, metadata and instruction is spread over
kept.jsonl, rejected.jsonl, manifest.json and state.sqlite; this gathers it
into one structure the page draws. Items are flattened to one shape (kept,
rejected, failed, and, in a run that stopped, unfinished) so one browser
filters them all. A kept row holds only the filter round that kept it, so an
earlier round of a kept pair has no gap to show; the page says how many
judged rounds each histogram holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeclm_dspy.out_paths import shown
from codeclm_dspy.report.read import models, obj, query, read_json, read_rows, seq, text

OUTCOMES = ("kept", "rejected", "failed", "unfinished")
SUMMARY_KEYS = ("method", "status", "started_at", "finished_at", "wall_time_s", "random_seed", "sessions")


def run_report(path: Path) -> dict[str, Any]:
    """Everything the run page draws, from the run directory ``path``."""
    where = shown(path / "manifest.json")
    manifest = obj(read_json(path / "manifest.json"), where)
    funnel = obj(manifest.get("cost_funnel"), f"{where}, field 'cost_funnel'")
    config = obj(manifest.get("config"), f"{where}, field 'config'")
    pipeline = obj(config.get("pipeline"), f"{where}, field 'config.pipeline'")
    iterations = seq(funnel.get("iterations"), f"{where}, field 'cost_funnel.iterations'", dict)
    stages = obj(funnel.get("stages"), f"{where}, field 'cost_funnel.stages'")
    items = _items(path)
    return {
        "kind": "run",
        "summary": {k: manifest.get(k) for k in SUMMARY_KEYS},
        "error": manifest.get("error"),
        "models": models(manifest, where),
        "settings": {k: pipeline.get(k) for k in sorted(pipeline)},
        "accounting": manifest.get("accounting"),
        "threshold": pipeline.get("threshold"),
        "funnel": _funnel(funnel, iterations, items),
        "iterations": iterations,
        "gaps": _gaps(items),
        "stages": [
            {"stage": k, **obj(v, f"{where}, field 'cost_funnel.stages.{k}'")} for k, v in stages.items()
        ],
        "steps": _steps(path, manifest, where),
        "per_kept_pair": funnel.get("per_kept_pair"),
        "per_kept_pair_standalone": funnel.get("per_kept_pair_standalone"),
        "shortfall": {"pairs": funnel.get("shortfall"), "reason": funnel.get("shortfall_reason")},
        "reasons": _reasons(items),
        "items": items,
    }


def _funnel(
    funnel: dict[str, Any], iterations: list[dict[str, Any]], items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The bars of the funnel chart: each stage's count, then how the instructions ended.

    From the manifest when the run finished; from the items when it stopped
    before writing its funnel (a budget stop), so the chart is never empty.
    """
    ended = [i for i in items if i["kind"] == "instruction"]
    outcome = {o: sum(i["outcome"] == o for i in ended) for o in OUTCOMES}
    dropped = sum(i["reason"] == "within_threshold" for i in ended)
    bars = []
    if funnel:
        bars.append(_bar("seeds", funnel.get("seeds"), "stage"))
        if funnel.get("metadata") is not None:  # a baseline has no metadata stage
            bars.append(_bar("metadata", funnel["metadata"], "stage"))
        bars.append(_bar("basic instructions", funnel.get("basic_instructions"), "stage"))
        bars += [
            _bar(f"judged in round {it.get('iteration')}", it["judged"], "round")
            for it in iterations
            if it.get("judged")
        ]
    else:
        bars.append(_bar("instructions", len(ended), "stage"))
    bars.append(_bar("kept", outcome["kept"], "kept"))
    bars.append(_bar("dropped (gap within θ)", dropped, "dropped"))
    bars.append(_bar("rejected (gates, duplicates, quota)", outcome["rejected"] - dropped, "dropped"))
    bars.append(_bar("failed", outcome["failed"], "failed"))
    if outcome["unfinished"]:
        bars.append(_bar("unfinished", outcome["unfinished"], "unfinished"))
    return bars


def _bar(label: str, value: int | None, group: str) -> dict[str, Any]:
    return {"label": label, "value": value, "group": group}


def _items(path: Path) -> list[dict[str, Any]]:
    """Kept and rejected rows (and, in a stopped run, the unfinished ones) in one shape."""
    rounds = {
        str(item_id).split(":", 1)[-1]: _loads(blob)
        for item_id, blob in query(
            path / "state.sqlite", "SELECT id, row FROM items WHERE kind = 'trajectory'"
        )
    }
    state = shown(path / "state.sqlite")
    items = [
        _kept(_checked(row, where), _trajectory(rounds.get(str(row.get("id"))), state))
        for where, row in read_rows(path / "kept.jsonl")
    ]
    rejected = [_checked(row, where) for where, row in read_rows(path / "rejected.jsonl")]
    seeds = {str(r.get("id")): r.get("instruction") for r in rejected if r.get("kind") == "seed"}
    items += [_rejected(row) for row in rejected]
    done = {(i["kind"], i["id"]) for i in items}
    for kind, status, stage, blob in query(
        path / "state.sqlite", "SELECT kind, status, stage, row FROM items WHERE status = 'running'"
    ):
        row = _loads(blob)
        if row is not None and (kind, str(row.get("id"))) not in done:
            extra = {"kind": kind, "outcome": "unfinished", "reason": status, "stage": stage}
            items.append(_rejected(_checked({**row, **extra}, f"{state}, running item {row.get('id')}")))
    for item in items:
        item["seeds"] = [{"id": s, "text": seeds.get(str(s))} for s in item.pop("seed_ids", None) or []]
    return items


TEXT_FIELDS = ("kind", "outcome", "reason", "stage", "source", "instruction", "use_case")
LIST_FIELDS = {"attempts": dict, "seed_ids": (str, int), "skills": None, "actions": None}


def _checked(row: dict[str, Any], where: str) -> dict[str, Any]:
    """``row`` once the fields the report relies on have their types (a row may be hand-edited).

    Raises:
        ReportError: a field has another type; the message names the file, line and field.
    """
    for key in TEXT_FIELDS:
        text(row.get(key), f"{where}, field '{key}'")
    for key, of in LIST_FIELDS.items():
        seq(row.get(key), f"{where}, field '{key}'", of)
    return row


def _trajectory(row: dict[str, Any] | None, where: str) -> dict[str, Any] | None:
    """A kept item's recorded rounds, with its attempts checked to be objects."""
    if row is not None:
        seq(row.get("attempts"), f"{where}, trajectory {row.get('id')}, field 'attempts'", dict)
    return row


def _loads(blob: str) -> dict[str, Any] | None:
    try:
        row = json.loads(blob)
    except ValueError:
        return None
    return row if isinstance(row, dict) else None


def _kept(row: dict[str, Any], trajectory: dict[str, Any] | None) -> dict[str, Any]:
    """A kept row, with every round it went through when the run recorded them (runs made before reports existed did not)."""
    if trajectory and trajectory.get("attempts"):
        extra = (
            {"refused_rewrites": trajectory["refused_rewrites"]} if trajectory.get("refused_rewrites") else {}
        )
        return {**_kept_last(row), "attempts": trajectory["attempts"], "only_last_round": False, **extra}
    return _kept_last(row)


def _kept_last(row: dict[str, Any]) -> dict[str, Any]:
    attempt = {
        k: row.get(k)
        for k in ("iteration", "instruction", "gap", "strong_score", "target_score", "judge_scores")
    }
    answer = "strong_response" if row.get("source") == "strong" else "target_response"
    attempt[answer] = row.get("response")
    return {
        **_common(row),
        "kind": "instruction",
        "outcome": "kept",
        "reason": f"kept_{row.get('source')}",
        "stage": "contrastive_filtering",
        "source": row.get("source"),
        "iteration": row.get("iteration"),
        "gap": row.get("gap"),
        "attempts": [attempt],
        "only_last_round": True,
    }


def _rejected(row: dict[str, Any]) -> dict[str, Any]:
    attempts = row.get("attempts") or []
    extra = ("gate_detail", "error", "raw", "threshold", "refused_rewrites", "mixed")
    return {
        **_common(row),
        "kind": row.get("kind") or "instruction",
        "outcome": row.get("outcome") or "rejected",
        "reason": row.get("reason") or "",
        "stage": row.get("stage") or "",
        "source": None,
        "iteration": len(attempts) or None,
        "gap": attempts[-1].get("gap") if attempts else None,
        "attempts": attempts,
        **{k: row[k] for k in extra if row.get(k) not in (None, [], "")},
    }


def _common(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row.get("id")),
        "instruction": row.get("instruction") or "",
        "basic_instruction": row.get("basic_instruction"),
        "use_case": row.get("use_case") or "",
        "skills": row.get("skills") or [],
        "metadata_id": row.get("metadata_id"),
        "actions": row.get("actions") or [],
        "seed_ids": row.get("seed_ids") or [],
    }


def _gaps(items: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Every recorded gap G = strong - target, per filter round."""
    rounds: dict[str, list[float]] = {}
    for item in items:
        for attempt in item["attempts"]:
            number = attempt.get("iteration")
            if isinstance(attempt.get("gap"), int | float) and isinstance(number, int) and number > 0:
                rounds.setdefault(str(attempt["iteration"]), []).append(attempt["gap"])
    return dict(sorted(rounds.items(), key=lambda kv: int(kv[0])))


def _steps(path: Path, manifest: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """Calls, tokens, USD and provider seconds per step (the seconds from the journal)."""
    seconds = dict(
        query(
            path / "state.sqlite",
            "SELECT step, SUM(seconds) FROM calls WHERE source = 'provider' GROUP BY step",
        )
    )
    usage = obj(manifest.get("usage"), f"{where}, field 'usage'")
    steps = obj(usage.get("steps"), f"{where}, field 'usage.steps'")
    rows = []
    for name, row in steps.items():
        field = f"{where}, field 'usage.steps.{name}"
        row = obj(row, f"{field}'")
        rows.append(
            {
                "step": name,
                "calls": row.get("calls"),
                "cache_hits": row.get("cache_hits"),
                "tokens": row.get("tokens"),
                "usd": row.get("usd"),
                "seconds": seconds.get(name),
                "models": ", ".join(seq(row.get("models"), f"{field}.models'", str)),
            }
        )
    return rows


def _reasons(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items not kept, by kind, reason and the stage that stopped them, most frequent first."""
    counts: dict[tuple[str, str, str, str], int] = {}
    for item in items:
        if item["outcome"] != "kept":
            key = (item["kind"], item["outcome"], item["reason"], item["stage"])
            counts[key] = counts.get(key, 0) + 1
    rows = [
        {"kind": k, "outcome": o, "reason": r, "stage": s, "count": n} for (k, o, r, s), n in counts.items()
    ]
    return sorted(rows, key=lambda r: (-r["count"], r["reason"]))
