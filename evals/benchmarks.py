"""Instruction benchmarks in, and the paper's seeded 20/80 split.

A benchmark is a local JSONL, JSON (one array) or CSV file, read by
``codeclm_dspy.files`` so a bad one is named by file and line; or a directory
written by ``Dataset.save_to_disk`` or a hub id, read with HF ``datasets`` (a
hub id needs internet; without it, it fails with a clear message). CodecLM extracts metadata from 20% of a benchmark and evaluates on
the rest; ``split`` makes that split reproducible under a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from codeclm_dspy.errors import CodecLMError
from codeclm_dspy.files import check_record, csv_records, json_records, record_id
from codeclm_dspy.pipeline.records import Seed


class BenchmarkError(CodecLMError):
    """A benchmark cannot be read or has no usable instructions."""

    exit_code = 2


@dataclass(frozen=True)
class Item:
    """One eval instruction; ``text`` is the instruction with its input appended."""

    id: str
    text: str
    category: str = ""
    reference: str = ""


def _read(source: str, split: str) -> tuple[list[str], list[tuple[str, dict]]]:
    """The field names and ``(where, record)`` pairs of a benchmark.

    A local file is read here (``codeclm_dspy.files``), never by HF datasets:
    its JSON reader crashes the process on deeply nested lines and logs a
    traceback on bad ones, and ours names the file and line instead. Saved
    datasets and hub ids still go through ``datasets``.
    """
    path = Path(source)
    if path.exists() and not path.is_dir():
        if path.suffix.lower() == ".csv":
            records = csv_records(path, "benchmark file", BenchmarkError)
        else:
            records = json_records(path, "benchmark file", BenchmarkError)
        return list(dict.fromkeys(k for _, r in records for k in r)), records
    import datasets

    datasets.disable_progress_bars()
    datasets.utils.logging.set_verbosity_error()  # our one-line error says it
    try:
        if path.is_dir():
            data = datasets.load_from_disk(str(path))
            data = data[split] if isinstance(data, datasets.DatasetDict) else data
        else:
            data = datasets.load_dataset(source, split=split)
        rows = [(f"record {n}", row) for n, row in enumerate(data, start=1)]
    except Exception as exc:  # datasets raises many types; the user needs one line
        where = "directory" if path.exists() else "path or hub id"
        raise BenchmarkError(
            f"cannot read benchmark {where} '{source}': {type(exc).__name__}: {exc}"
        ) from None
    return list(data.column_names), [
        (w, check_record(r, f"benchmark '{source}' {w}", BenchmarkError)) for w, r in rows
    ]


def load_benchmark(
    source: str | Path,
    *,
    instruction_field: str = "instruction",
    id_field: str = "id",
    input_field: str = "input",
    split: str = "test",
) -> list[Item]:
    """Read a benchmark's instructions, whatever its records call their fields.

    Args:
        source: a local file or saved dataset, or a hub id.
        instruction_field: the field with the item's text. A list of turns
            (MT-Bench's ``turns``) gives its first turn: a single-turn
            evaluation asks only that.
        id_field: the item's id; without such a field (only allowed for the
            default ``id``) items are numbered by position.
        input_field: appended to the instruction when present and non-empty.
        split: the split to take from a hub dataset or a saved DatasetDict.

    Raises:
        BenchmarkError: unreadable source, a missing field (naming the fields
            there are and the option that picks one), an item without text, an
            id that is not text or an integer, duplicate ids or no items.
    """
    columns, records = _read(str(source), split)
    fields = ", ".join(columns)
    if instruction_field not in columns:
        raise BenchmarkError(
            f"benchmark '{source}' has no '{instruction_field}' field (fields: {fields}); name "
            "its text field with --instruction-field or benchmark.instruction_field"
        )
    if id_field != "id" and id_field not in columns:
        raise BenchmarkError(
            f"benchmark '{source}' has no '{id_field}' field (fields: {fields}); name "
            "its id field with --id-field or benchmark.id_field"
        )
    items, seen = [], set()
    for n, (where, record) in enumerate(records, start=1):
        text = _first_text(
            record.get(instruction_field), f"benchmark '{source}' {where}: '{instruction_field}'"
        )
        extra = _first_text(record.get(input_field), f"benchmark '{source}' {where}: '{input_field}'")
        item_id = record_id(record, id_field, f"benchmark '{source}' {where}", BenchmarkError) or f"item-{n}"
        if not text:  # dropping it would shrink the eval set unseen
            raise BenchmarkError(
                f"benchmark '{source}' {where}: no text in '{instruction_field}'; give the item its text "
                "or remove it"
            )
        if item_id in seen:
            raise BenchmarkError(f"benchmark '{source}' repeats the id '{item_id}' ({where})")
        seen.add(item_id)
        reference = record.get("reference")
        if isinstance(reference, list):  # one reference per turn: the first turn's
            reference = reference[0] if reference else ""
        items.append(
            Item(
                item_id,
                f"{text}\n\n{extra}" if extra else text,
                str(record.get("category") or ""),
                str(reference or ""),
            )
        )
    if not items:
        raise BenchmarkError(f"benchmark '{source}' holds no instructions")
    return items


def _first_text(value: object, what: str) -> str:
    """A field's text, stripped: a string, or the first turn of a list of turns."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is not None and not isinstance(value, str):
        raise BenchmarkError(f"{what} is not text")
    return (value or "").strip()


def split(items: list[Item], seed_fraction: float = 0.2, seed: int = 0) -> tuple[list[Item], list[Item]]:
    """A reproducible (seeds, eval) split: ``seed_fraction`` of the items become seeds.

    At least one item lands on each side; both keep the benchmark's order.
    """
    if not 0 < seed_fraction < 1:
        raise BenchmarkError(f"the seed fraction must be between 0 and 1, not {seed_fraction}")
    if len(items) < 2:
        raise BenchmarkError("a benchmark needs at least two items to split")
    k = min(max(1, round(len(items) * seed_fraction)), len(items) - 1)
    chosen = set(random.Random(f"split:{seed}").sample(range(len(items)), k))
    return [x for i, x in enumerate(items) if i in chosen], [
        x for i, x in enumerate(items) if i not in chosen
    ]


def as_seeds(items: list[Item]) -> list[Seed]:
    """Benchmark items as CodecLM seeds (for ``codeclm_dspy.generate``)."""
    return [Seed(item.id, item.text) for item in items]
