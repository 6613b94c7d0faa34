"""Per-step accounting of LM calls, tokens and cost.

DSPy reports every billed (non-cached) call to ``settings.usage_tracker``;
``UsageMeter.step`` gives each pipeline step its own tracker so the manifest
can say where calls and tokens went. Prices come from LiteLLM's cost map at
the end; a model it has no price for is reported as unknown, not as free.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any


class _StepTracker:
    """The object DSPy calls ``add_usage`` on; counts one step's usage."""

    def __init__(self, meter: UsageMeter, step: str):
        self.meter, self.step = meter, step

    def add_usage(self, lm: str, usage_entry: dict[str, Any]) -> None:
        self.meter.add(self.step, lm, usage_entry)


class UsageMeter:
    """Thread-safe totals of calls and tokens per (step, model)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str], dict[str, int]] = defaultdict(
            lambda: {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
        )
        self._parses: dict[str, dict[str, int]] = defaultdict(lambda: {"attempts": 0, "parse_failures": 0})

    def step(self, name: str) -> _StepTracker:
        """The tracker to install with ``dspy.context(usage_tracker=...)``."""
        return _StepTracker(self, name)

    def add(self, step: str, model: str, usage: dict[str, Any]) -> None:
        with self._lock:
            row = self._totals[(step, model)]
            row["calls"] += 1
            row["prompt_tokens"] += int(usage.get("prompt_tokens") or 0)
            row["completion_tokens"] += int(usage.get("completion_tokens") or 0)

    def note_parse(self, step: str, ok: bool) -> None:
        """Count one structured-output attempt of a step and whether it parsed."""
        with self._lock:
            row = self._parses[step]
            row["attempts"] += 1
            row["parse_failures"] += 0 if ok else 1

    def parse_report(self) -> dict[str, dict[str, Any]]:
        """Parse attempts and failures per step, with the failure rate."""
        with self._lock:
            rows = {k: dict(v) for k, v in sorted(self._parses.items())}
        for row in rows.values():
            row["failure_rate"] = round(row["parse_failures"] / row["attempts"], 4)
        return rows

    def report(self) -> dict[str, Any]:
        """Totals per step and overall, with USD from LiteLLM's cost map."""
        with self._lock:
            items = [(k, dict(v)) for k, v in self._totals.items()]
        steps: dict[str, dict[str, Any]] = {}
        for (step, model), row in sorted(items):
            row["usd"] = _usd(model, row["prompt_tokens"], row["completion_tokens"])
            entry = steps.setdefault(step, {"calls": 0, "tokens": 0, "usd": 0.0, "models": {}})
            entry["models"][model] = row
            entry["calls"] += row["calls"]
            entry["tokens"] += row["prompt_tokens"] + row["completion_tokens"]
            entry["usd"] = None if entry["usd"] is None or row["usd"] is None else entry["usd"] + row["usd"]
        total_usd: float | None = 0.0
        for entry in steps.values():
            total_usd = None if total_usd is None or entry["usd"] is None else total_usd + entry["usd"]
        return {
            "calls": sum(e["calls"] for e in steps.values()),
            "tokens": sum(e["tokens"] for e in steps.values()),
            "usd": total_usd,
            "steps": steps,
        }


def _usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    import litellm

    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:
        return None  # no price known for this model (e.g. a self-hosted server)
    return float(prompt_cost + completion_cost)
