"""What every run's manifest.json says besides its results: versions, times, models, the cost funnel."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
from typing import Any

from codeclm_dspy.pipeline.counts import Counts, plain

PACKAGES = ("codeclm-dspy", "dspy", "litellm", "llama_cpp_python", "datasets", "pydantic")


def utc_now() -> str:
    """Now, in UTC, to the second (ISO 8601)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    """The installed versions of the packages a run's output depends on."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def models_of(config) -> dict[str, dict[str, Any]]:
    """Each role's model string, endpoint or endpoints (never a key: at most its variable's name), and
    the sampling its requests carry (the judge's temperature is 0 unless its own section sets one)."""
    models = {}
    for name, role in config.models.roles().items():
        models[name] = {"model": role.model, "api_base": role.api_base, "sampling": role.sampling()}
        if role.deployments:
            models[name]["deployments"] = [entry.model_dump() for entry in role.endpoints()]
    return models


def cost_funnel(counts: Counts, usage: dict[str, Any], stages_of: dict[str, tuple]) -> dict[str, Any]:
    """Items and spend per stage, and spend per kept pair.

    Args:
        counts: what the generator's run returned.
        stages_of: the generator's ``STAGES`` (stage name -> step labels).
    """
    i = counts.instructions
    kept = i.kept
    stages = {}
    for stage, steps in stages_of.items():
        rows = [usage["steps"][s] for s in steps if s in usage["steps"]]
        usd = None if any(r["usd"] is None for r in rows) else sum(r["usd"] for r in rows)
        stages[stage] = {
            "calls": sum(r["calls"] for r in rows),
            "tokens": sum(r["tokens"] for r in rows),
            "usd": usd,
        }

    def per_kept(total: dict[str, Any]) -> dict[str, Any] | None:
        if not kept:
            return None
        usd = None if total["usd"] is None else total["usd"] / kept
        return {"calls": total["calls"] / kept, "tokens": total["tokens"] / kept, "usd": usd}

    return {
        "seeds": counts.seeds.total,
        "metadata": counts.metadata.pool if counts.metadata is not None else None,
        "basic_instructions": i.generated,
        "iterations": plain(counts.iterations),
        "kept": kept,
        "asked": i.planned,
        "shortfall": i.shortfall,
        "shortfall_reason": i.shortfall_reason,
        "dropped": i.dropped,
        "failed": i.failed,
        "not_kept_by_reason": dict(sorted(counts.not_kept_reasons().items())),
        "stages": stages,
        "per_kept_pair": per_kept(usage),  # what this run paid
        "per_kept_pair_standalone": per_kept(usage["standalone"]),  # cache hits counted too
    }
