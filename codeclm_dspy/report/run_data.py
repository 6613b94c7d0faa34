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

from codeclm_dspy.report.read import query, read_json, read_rows

OUTCOMES = ("kept", "rejected", "failed", "unfinished")
SUMMARY_KEYS = ("method", "status", "started_at", "finished_at", "wall_time_s", "random_seed", "sessions")


def run_report(path: Path) -> dict[str, Any]:
    """Everything the run page draws, from the run directory ``path``."""
    manifest = read_json(path / "manifest.json", {}) or {}
    funnel = manifest.get("cost_funnel") or {}
    pipeline = (manifest.get("config") or {}).get("pipeline") or {}
    items = _items(path)
    return {
        "kind": "run",
        "summary": {k: manifest.get(k) for k in SUMMARY_KEYS},
        "error": manifest.get("error"),
        "models": {role: m.get("model") for role, m in (manifest.get("models") or {}).items()},
        "settings": {k: pipeline.get(k) for k in sorted(pipeline)},
        "accounting": manifest.get("accounting"),
        "threshold": pipeline.get("threshold"),
        "funnel": _funnel(funnel, items),
        "iterations": funnel.get("iterations") or [],
        "gaps": _gaps(items),
        "stages": [{"stage": k, **v} for k, v in (funnel.get("stages") or {}).items()],
        "steps": _steps(path, manifest),
        "per_kept_pair": funnel.get("per_kept_pair"),
        "per_kept_pair_standalone": funnel.get("per_kept_pair_standalone"),
        "shortfall": {"pairs": funnel.get("shortfall"), "reason": funnel.get("shortfall_reason")},
        "reasons": _reasons(items),
        "items": items,
    }


def _funnel(funnel: dict[str, Any], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
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
            _bar(f"judged in round {it['iteration']}", it["judged"], "round")
            for it in funnel.get("iterations") or []
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
        item_id.split(":", 1)[-1]: _loads(blob)
        for item_id, blob in query(
            path / "state.sqlite", "SELECT id, row FROM items WHERE kind = 'trajectory'"
        )
    }
    items = [_kept(row, rounds.get(str(row.get("id")))) for row in read_rows(path / "kept.jsonl")]
    rejected = list(read_rows(path / "rejected.jsonl"))
    seeds = {r.get("id"): r.get("instruction") for r in rejected if r.get("kind") == "seed"}
    items += [_rejected(row) for row in rejected]
    done = {(i["kind"], i["id"]) for i in items}
    for kind, status, stage, blob in query(
        path / "state.sqlite", "SELECT kind, status, stage, row FROM items WHERE status = 'running'"
    ):
        row = _loads(blob)
        if row is not None and (kind, row.get("id")) not in done:
            items.append(
                _rejected({**row, "kind": kind, "outcome": "unfinished", "reason": status, "stage": stage})
            )
    for item in items:
        item["seeds"] = [{"id": s, "text": seeds.get(s)} for s in item.pop("seed_ids", None) or []]
    return items


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
            if isinstance(attempt.get("gap"), int | float) and attempt.get("iteration"):
                rounds.setdefault(str(attempt["iteration"]), []).append(attempt["gap"])
    return dict(sorted(rounds.items(), key=lambda kv: int(kv[0])))


def _steps(path: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Calls, tokens, USD and provider seconds per step (the seconds from the journal)."""
    seconds = dict(
        query(
            path / "state.sqlite",
            "SELECT step, SUM(seconds) FROM calls WHERE source = 'provider' GROUP BY step",
        )
    )
    steps = ((manifest.get("usage") or {}).get("steps")) or {}
    return [
        {
            "step": name,
            "calls": row.get("calls"),
            "cache_hits": row.get("cache_hits"),
            "tokens": row.get("tokens"),
            "usd": row.get("usd"),
            "seconds": seconds.get(name),
            "models": ", ".join(row.get("models") or []),
        }
        for name, row in steps.items()
    ]


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
