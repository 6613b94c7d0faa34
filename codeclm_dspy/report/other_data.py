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

from codeclm_dspy.out_paths import shown
from codeclm_dspy.report.read import models, obj, png, query, read_json, read_rows, seq, text

RUN_KEYS = ("status", "started_at", "finished_at", "wall_time_s", "sessions")


def crr_report(path: Path) -> dict[str, Any]:
    """CRR with failures excluded and as losses, and every judged or failed item."""
    where = shown(path / "manifest.json")
    manifest = obj(read_json(path / "manifest.json"), where)
    items = [
        {
            **row,
            "id": str(row.get("id")),
            "outcome": "judged",
            "reason": text(row.get("verdict"), f"{at}, field 'verdict'") or "",
        }
        for at, row in read_rows(path / "verdicts.jsonl")
    ]
    items += [
        {**row, "id": str(row.get("id")), "outcome": "failed", "verdict": "failed"}
        for _, row in read_rows(path / "failed.jsonl")
    ]
    return {
        "kind": "crr",
        "summary": {k: manifest.get(k) for k in (*RUN_KEYS, "benchmark", "items", "judge_model")},
        "error": manifest.get("error"),
        "self_judged_as": manifest.get("self_judged_as"),
        "result": manifest.get("result"),
        "as_losses": manifest.get("result_failures_as_losses"),
        "counts": manifest.get("counts"),
        "models": models(manifest, where),
        "items": items,
    }


def program_report(path: Path) -> dict[str, Any]:
    """Each compiled step: optimizer, scores before and after (and per item), the prompt kept."""
    where = shown(path / "manifest.json")
    manifest = obj(read_json(path / "manifest.json"), where)
    steps, items = [], []
    for name, step in obj(manifest.get("steps"), f"{where}, field 'steps'").items():
        field = f"{where}, field 'steps.{name}"
        step = obj(step, f"{field}'")
        before, after = obj(step.get("before"), f"{field}.before'"), obj(step.get("after"), f"{field}.after'")
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
        items += _before_after(
            name,
            seq(before.get("items"), f"{field}.before.items'", dict),
            seq(after.get("items"), f"{field}.after.items'", dict),
        )
    return {
        "kind": "program",
        "summary": {k: manifest.get(k) for k in RUN_KEYS},
        "error": manifest.get("error"),
        "models": models(manifest, where),
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
    where = shown(path / "comparison.json")
    data = obj(read_json(path / "comparison.json"), where)
    flags = [
        {**flag, "row_id": flag.get("id"), "id": f"{run}:{n}", "run": run}
        for run, found in obj(data.get("flags"), f"{where}, field 'flags'").items()
        for n, flag in enumerate(seq(found, f"{where}, field 'flags.{run}'", dict))
    ]
    chart = png(path / "comparison.png")
    return {
        "kind": "comparison",
        "rows": seq(data.get("rows"), f"{where}, field 'rows'", dict),
        "settings": obj(data.get("settings"), f"{where}, field 'settings'"),
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
            "study": str(studies.get(sid, sid)),
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
            known = isinstance(objective, int) and objective in (0, 1)
            trials[tid]["values"][
                ("quality", "cost per kept pair")[objective] if known else str(objective)
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
        "items": sorted(trials.values(), key=lambda t: (t["study"], str(t["number"]).zfill(12))),
        "images": [image for image in map(png, plots) if image],
    }


def _param(value: float, dist: str) -> Any:
    """A knob's value as sampled: Optuna stores a choice by its index, an integer as a float."""
    spec = _json(dist)
    if not isinstance(spec, dict) or not isinstance(value, int | float) or value != value:
        return value  # not as Optuna writes it: shown as stored rather than guessed at
    attributes = spec.get("attributes")
    choices = attributes.get("choices") if isinstance(attributes, dict) else None
    if spec.get("name") == "CategoricalDistribution" and isinstance(choices, list):
        return choices[int(value)] if 0 <= value < len(choices) else value
    if spec.get("name") in ("IntDistribution", "IntUniformDistribution", "IntLogUniformDistribution"):
        return int(value) if abs(value) < float("inf") else value
    return value


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text
