"""What the stub server answers: a pure function of the request body, the seed and nothing else.

A schema'd request (``response_format`` of type ``json_schema`` or
``json_object`` with a schema) gets a JSON value built to satisfy that schema,
with distinct array items wherever the schema allows, so the pipeline's parsing
and de-duplication see realistic data; other requests get a few vocabulary
words. Hand-written rather than a mocking library because benchmarks need the
same answer for the same request across processes and runs.
"""

from __future__ import annotations

import json
import random
from typing import Any

VOCAB = (  # noqa: SIM905 - one compact word list
    "apple bright river stone quiet garden number simple window travel market yellow letter summer "
    "careful planet silver music answer little forest engine paper ocean pencil doctor family winter "
    "gentle basket candle rocket island mirror button orange hollow marble ladder shadow thunder "
    "velvet harbor meadow puzzle signal bridge canvas dinner finger golden jacket kitten lemon "
    "monkey needle pocket rabbit saddle timber violet wagon"
).split()


def _rng(key: str, path: str) -> random.Random:
    """Return a generator seeded from the request key and a position in the answer."""
    return random.Random(f"{key}|{path}")


def _words(rng: random.Random, lo: int, hi: int) -> str:
    """Return between ``lo`` and ``hi`` vocabulary words joined by spaces."""
    return " ".join(rng.choice(VOCAB) for _ in range(rng.randint(lo, hi)))


def _synth(node: dict, defs: dict, key: str, path: str, name: str = "") -> Any:
    """Build a value valid against the JSON-schema ``node``; ``name`` is the enclosing property name."""
    while "$ref" in node:
        node = defs.get(node["$ref"].rsplit("/", 1)[-1], {})
    rng = _rng(key, path)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return rng.choice(node["enum"])
    for combo in ("anyOf", "oneOf", "allOf"):
        if node.get(combo):
            branches = [b for b in node[combo] if b.get("type") != "null"] or node[combo]
            if all("const" in b for b in branches):
                return rng.choice(branches)["const"]
            return _synth(branches[0], defs, key, path, name)
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = kind or ("object" if "properties" in node else "array" if "items" in node else "string")
    if kind == "object":
        return {k: _synth(v, defs, key, f"{path}/{k}", k) for k, v in node.get("properties", {}).items()}
    if kind == "array":
        lo = max(1, node["minItems"]) if "minItems" in node else 2
        hi = min(node["maxItems"], 4) if "maxItems" in node else 4
        lo = min(lo, node.get("maxItems", lo))
        items, seen = [], set()
        for i in range(rng.randint(lo, max(lo, hi))):
            for attempt in range(20):  # keep items distinct whenever the schema allows it
                item = _synth(node.get("items", {}), defs, key, f"{path}/{i}~{attempt}", name)
                if json.dumps(item, sort_keys=True) not in seen:
                    break
            seen.add(json.dumps(item, sort_keys=True))
            items.append(item)
        return items
    if kind == "string":
        text = _words(rng, 2, 2) if name == "skills" else _words(rng, 5, 12)
        while len(text) < max(4, node.get("minLength", 0)):
            text += " " + rng.choice(VOCAB)
        return text[: node["maxLength"]].strip() if "maxLength" in node else text
    if kind in ("integer", "number"):
        lo = node.get("minimum", node.get("exclusiveMinimum", 0) + 1 if "exclusiveMinimum" in node else None)
        hi = node.get("maximum", node.get("exclusiveMaximum", 0) - 1 if "exclusiveMaximum" in node else None)
        lo = lo if lo is not None else (hi - 9 if hi is not None else 1)
        hi = hi if hi is not None else lo + 9
        return rng.randint(int(lo), int(hi)) if kind == "integer" else round(rng.uniform(lo, hi), 3)
    if kind == "boolean":
        return rng.random() < 0.8
    return None


def _schema(body: dict) -> tuple[dict | None, bool]:
    """Return ``(schema, wants_json)`` from the request's ``response_format``."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_schema", "json_object"):
        return None, False
    schema = (
        fmt.get("schema") if fmt["type"] == "json_object" else (fmt.get("json_schema") or {}).get("schema")
    )
    return (schema if isinstance(schema, dict) else None), True


def _text_len(content: Any) -> int:
    """Count the characters of a message content (a string or a list of content parts)."""
    if isinstance(content, list):
        return sum(len(p.get("text", "")) for p in content if isinstance(p, dict))
    return len(content) if isinstance(content, str) else 0


def answer(body: dict, key: str) -> tuple[str, dict | None]:
    """The reply's content for the request ``body`` (``key``: its seeded hash), and its schema if any."""
    schema, wants_json = _schema(body)
    if schema is not None:
        content = json.dumps(
            _synth(schema, {**schema.get("definitions", {}), **schema.get("$defs", {})}, key, "")
        )
    elif wants_json:
        content = json.dumps({"answer": _words(_rng(key, "answer"), 5, 12)})
    else:
        text = _words(_rng(key, "text"), 10, 40)
        content = text[0].upper() + text[1:] + "."
    return content, schema


def prompt_chars(body: dict) -> int:
    """The characters of every message in the request, for a rough token count."""
    return sum(_text_len(m.get("content")) for m in body.get("messages", []) if isinstance(m, dict))
