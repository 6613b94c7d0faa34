"""Reading a finished run directory for a comparison: its kept instructions and its spend.

``load_run`` reads ``manifest.json`` and ``kept.jsonl`` through
``codeclm_dspy.files`` (so a bad line is named by file, line and column) and
changes nothing. Spend is counted as if the request cache were cold, so a
method run after another one that shared its cache does not look cheaper than
it is; ``evals.compare`` turns these runs into rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import CodecLMError
from codeclm_dspy.files import check_record, parse_json, read_text

KEPT, MANIFEST = "kept.jsonl", "manifest.json"


class CompareError(CodecLMError):
    """A run directory or an eval set cannot be used in a comparison."""

    exit_code = 2


@dataclass
class Run:
    """One run directory as a comparison sees it (read-only).

    ``usd`` and ``usd_per_kept`` are None when some call had no known price;
    the per-pair figures are None when nothing was kept.
    """

    path: Path
    method: str
    status: str
    ids: list[str]
    instructions: list[str]
    kept: int
    calls: int | None
    tokens: int | None
    usd: float | None
    calls_per_kept: float | None
    tokens_per_kept: float | None
    usd_per_kept: float | None
    lines: list[str] = field(default_factory=list, repr=False)  # kept.jsonl rows verbatim


def _read_json(path: Path) -> Any:
    return parse_json(read_text(path, "run manifest", CompareError), path, 1, CompareError)


def _cost(manifest: dict[str, Any], where: Path) -> dict[str, Any]:
    """What the run's calls cost with a cold cache: provider calls plus cache hits.

    Runs that share the request cache pay only for answers nobody asked for
    before, so a method run after another looks cheaper than it is; a fair
    comparison counts every call the method made. Older manifests have only
    the paid figures. The figures are checked to be numbers, since a
    hand-edited manifest would otherwise fail in the division per kept pair.

    Raises:
        CompareError: ``usage`` (or ``usage.standalone``) is not an object, or
            one of its figures is not a number.
    """
    usage = manifest.get("usage")
    field = "usage"
    if usage is not None and not isinstance(usage, dict):
        raise CompareError(f"{where}: field 'usage' is {_kind(usage)}; expected an object")
    usage = usage or {}
    standalone = usage.get("standalone")
    if standalone is not None and not isinstance(standalone, dict):
        raise CompareError(f"{where}: field 'usage.standalone' is {_kind(standalone)}; expected an object")
    if standalone:
        usage, field = standalone, "usage.standalone"
    for key in ("calls", "tokens", "usd"):
        value = usage.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise CompareError(f"{where}: field '{field}.{key}' is {_kind(value)}; expected a number")
    return usage


def _kind(value: Any) -> str:
    """A JSON value's type as a message names it."""
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", int: "a number"}
    return names.get(type(value), "a number" if isinstance(value, float) else type(value).__name__)


def _per_kept(cost: dict[str, Any], kept: int) -> dict[str, Any]:
    if not kept or cost.get("calls") is None:
        return {}
    return {k: None if cost.get(k) is None else cost[k] / kept for k in ("calls", "tokens", "usd")}


def load_run(path: str | Path) -> Run:
    """Read a run directory's kept instructions and spend, touching nothing.

    Raises:
        CompareError: not a run directory, an unreadable manifest, or a
            kept.jsonl line that is not a JSON object with an instruction.
    """
    path = Path(path)
    if not path.is_dir():
        raise CompareError(f"run directory {path} does not exist or is not a directory")
    if not (path / MANIFEST).is_file():
        raise CompareError(f"{path} is not a codeclm run directory (no {MANIFEST})")
    manifest = _read_json(path / MANIFEST)
    if not isinstance(manifest, dict):
        raise CompareError(f"{path / MANIFEST} is not a JSON object")
    if not (path / KEPT).is_file():
        raise CompareError(f"{path} has no {KEPT}; the run ended before exporting its kept pairs")
    text = read_text(path / KEPT, "kept file", CompareError)
    ids, instructions, lines = [], [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = parse_json(line, path / KEPT, n, CompareError)
        if isinstance(row, dict):
            check_record(row, f"{path / KEPT} line {n}", CompareError)
        if not isinstance(row, dict) or not isinstance(row.get("instruction"), str):
            raise CompareError(f"{path / KEPT} line {n}: not a row with an 'instruction' string")
        ids.append(str(row.get("id") or f"line-{n}"))
        instructions.append(row["instruction"])
        lines.append(line)
    cost = _cost(manifest, path / MANIFEST)
    per = _per_kept(cost, len(lines))
    return Run(
        path,
        str(manifest.get("method") or path.name),
        str(manifest.get("status") or "unknown"),
        ids,
        instructions,
        len(lines),
        cost.get("calls"),
        cost.get("tokens"),
        cost.get("usd"),
        per.get("calls"),
        per.get("tokens"),
        per.get("usd"),
        lines,
    )
