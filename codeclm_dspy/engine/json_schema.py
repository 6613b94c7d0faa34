"""Bounding the arrays of a JSON schema before it reaches a model."""

from __future__ import annotations

from typing import Any


def bound_arrays(schema: Any, *, min_items: int | None = None, max_items: int | None = None) -> Any:
    """A copy of ``schema`` whose every array has at least ``min_items`` and at
    most ``max_items`` items (a bound the schema already sets tighter is kept)."""
    if isinstance(schema, list):
        return [bound_arrays(s, min_items=min_items, max_items=max_items) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: bound_arrays(v, min_items=min_items, max_items=max_items) for k, v in schema.items()}
    if out.get("type") == "array":
        if min_items is not None:
            out["minItems"] = max(out.get("minItems", min_items), min_items)
        if max_items is not None:
            out["maxItems"] = min(out.get("maxItems", max_items), max_items)
    return out
