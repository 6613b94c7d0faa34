"""The other directories codeclm writes, as the report shows them.

- a CRR evaluation (``codeclm eval crr``, CodecLM §5.3): CRR both ways with
  intervals, and every item's answers, scores in both orders and verdict;
- a compiled program (``codeclm compile``): each step's held-out score
  before and after, per item, and the prompt it kept;
- a comparison (``codeclm eval compare``): its table, chart and leak flags;
- a sweep (``codeclm sweep``): its trials from the Optuna SQLite storage
  (read with plain SQL, so the core needs no Optuna) and its charts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeclm_dspy.report.read import png, query, read_json, read_rows

RUN_KEYS = ("status", "started_at", "finished_at", "wall_time_s", "sessions")


def crr_report(path: Path) -> dict[str, Any]:
    """CRR with failures excluded and as losses, and every judged or failed item."""
    manifest = read_json(path / "manifest.json", {}) or {}
    items = [
        {**row, "id": str(row.get("id")), "outcome": "judged", "reason": row.get("verdict") or ""}
        for row in read_rows(path / "verdicts.jsonl")
    ]
    items += [
        {**row, "id": str(row.get("id")), "outcome": "failed", "verdict": "failed"}
        for row in read_rows(path / "failed.jsonl")
    ]
    return {
        "kind": "crr",
        "summary": {k: manifest.get(k) for k in (*RUN_KEYS, "benchmark", "items", "judge_model")},
        "error": manifest.get("error"),
        "self_judged_as": manifest.get("self_judged_as"),
        "result": manifest.get("result"),
        "as_losses": manifest.get("result_failures_as_losses"),
        "counts": manifest.get("counts"),
        "models": {role: m.get("model") for role, m in (manifest.get("models") or {}).items()},
        "items": items,
    }


def program_report(path: Path) -> dict[str, Any]:
    """Each compiled step: optimizer, scores before and after (and per item), the prompt kept."""
    manifest = read_json(path / "manifest.json", {}) or {}
    steps, items = [], []
    for name, step in (manifest.get("steps") or {}).items():
        before, after = step.get("before") or {}, step.get("after") or {}
        steps.append(
            {
                "step": name,
                **{k: step.get(k) for k in ("optimizer", "kept", "delta", "compile_seconds", "demos")},
                "before": before.get("mean"),
                "after": after.get("mean"),
                "before_ci": before.get("ci95"),
                "after_ci": after.get("ci95"),
                "n": after.get("n", before.get("n")),
                "examples": step.get("examples"),
                "instructions": step.get("instructions"),
            }
        )
        items += _before_after(name, before.get("items") or [], after.get("items") or [])
    return {
        "kind": "program",
        "summary": {k: manifest.get(k) for k in RUN_KEYS},
        "error": manifest.get("error"),
        "models": {role: m.get("model") for role, m in (manifest.get("models") or {}).items()},
        "steps": steps,
        "items": items,
    }


def _before_after(step: str, before: list[dict], after: list[dict]) -> list[dict[str, Any]]:
    """One row per held-out example: its score, feedback or error before and after compiling."""
    later = {str(i.get("id")): i for i in after}
    rows = []
    for b in before:
        key = str(b.get("id"))
        a = later.pop(key, {})
        rows.append(_pair(step, key, b, a))
    rows += [_pair(step, key, {}, a) for key, a in later.items()]
    return rows


def _pair(step: str, key: str, b: dict, a: dict) -> dict[str, Any]:
    change = None
    if isinstance(a.get("score"), int | float) and isinstance(b.get("score"), int | float):
        change = round(a["score"] - b["score"], 4)
    outcome = "unchanged" if not change else ("better" if change > 0 else "worse")
    return {
        "id": f"{step}:{key}",
        "step": step,
        "outcome": outcome,
        "change": change,
        "before": b,
        "after": a,
    }


def comparison_report(path: Path) -> dict[str, Any]:
    """The comparison's rows, settings and contamination flags, and its chart."""
    data = read_json(path / "comparison.json", {}) or {}
    flags = [
        {**flag, "row_id": flag.get("id"), "id": f"{run}:{n}", "run": run}
        for run, found in (data.get("flags") or {}).items()
        for n, flag in enumerate(found)
    ]
    chart = png(path / "comparison.png")
    return {
        "kind": "comparison",
        "rows": data.get("rows") or [],
        "settings": data.get("settings") or {},
        "items": flags,
        "images": [chart] if chart else [],
    }


def sweep_report(path: Path) -> dict[str, Any]:
    """Every trial of every study in study.db: state, objectives, knobs, metrics; the plots."""
    db = path / "study.db"
    studies = dict(query(db, "SELECT study_id, study_name FROM studies"))
    trials: dict[int, dict[str, Any]] = {}
    for tid, sid, number, state, start, end in query(
        db, "SELECT trial_id, study_id, number, state, datetime_start, datetime_complete FROM trials"
    ):
        trials[tid] = {
            "id": f"{studies.get(sid, sid)}:{number}",
            "study": studies.get(sid, str(sid)),
            "number": number,
            "outcome": str(state).lower(),
            "started": start,
            "finished": end,
            "values": {},
            "params": {},
            "attrs": {},
        }
    for tid, objective, value in query(db, "SELECT trial_id, objective, value FROM trial_values"):
        if tid in trials:
            trials[tid]["values"][
                ("quality", "cost per kept pair")[objective] if objective < 2 else str(objective)
            ] = value
    for tid, name, value, dist in query(
        db, "SELECT trial_id, param_name, param_value, distribution_json FROM trial_params"
    ):
        if tid in trials:
            trials[tid]["params"][name] = _param(value, dist)
    for tid, key, value in query(db, "SELECT trial_id, key, value_json FROM trial_user_attributes"):
        if tid in trials and key != "config":  # the full config is long; trials/<n>/config.yaml has it
            trials[tid]["attrs"][key] = _json(value)
    plots = sorted((path / "plots").glob("*.png")) if (path / "plots").is_dir() else []
    return {
        "kind": "sweep",
        "storage": "study.db" if db.is_file() else None,
        "items": sorted(trials.values(), key=lambda t: (t["study"], t["number"])),
        "images": [image for image in map(png, plots) if image],
    }


def _param(value: float, dist: str) -> Any:
    """A knob's value as sampled: Optuna stores a choice by its index, an integer as a float."""
    spec = _json(dist) or {}
    if spec.get("name") == "CategoricalDistribution":
        choices = (spec.get("attributes") or {}).get("choices") or []
        return choices[int(value)] if 0 <= int(value) < len(choices) else value
    if spec.get("name") in ("IntDistribution", "IntUniformDistribution", "IntLogUniformDistribution"):
        return int(value)
    return value


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text
