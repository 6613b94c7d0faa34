"""Reading seed instructions from JSONL, CSV or a saved HF dataset.

Seeds are read before a run exists, so an unusable one (bad text, an id that
is not text or an integer) stops the command with one line naming it: there
is no run yet to record it as rejected in.
"""

from __future__ import annotations

from pathlib import Path

from codeclm_dspy.errors import SeedError
from codeclm_dspy.files import check_record, csv_records, json_records, record_id
from codeclm_dspy.pipeline.records import Metadata, Seed


def load_seeds(path: str | Path, instruction_field: str = "instruction", id_field: str = "id") -> list[Seed]:
    """Read seeds, check every record, and give each a stable id.

    Args:
        path: a ``.jsonl`` / ``.json`` lines file, a ``.csv`` file, or a
            directory written by ``datasets.Dataset.save_to_disk``.
        instruction_field: the field holding the instruction text.
        id_field: the field holding an id; records without one get
            ``seed-<n>`` from their position (1-based).

    A non-empty ``input`` field (Self-Instruct style tasks) is appended to
    the instruction, as benchmarks are read in ``evals``: without it the
    request is incomplete.

    Raises:
        SeedError: missing or empty file, a malformed line (named), or a
            record without a non-empty instruction.
    """
    return [seed for seed, _, _ in seed_records(path, instruction_field, id_field)]


def seed_records(
    path: str | Path, instruction_field: str = "instruction", id_field: str = "id"
) -> list[tuple[Seed, dict, str]]:
    """``(seed, raw record, where)`` for every record: ``load_seeds`` with the
    fields it does not use kept, for readers that need more (compile's
    reference answers and labels)."""
    path = Path(path)
    seeds, ids = [], set()
    for where, record in read_records(path):
        text = record.get(instruction_field)
        if not isinstance(text, str) or not text.strip():
            raise SeedError(
                f"{path} {where}: no '{instruction_field}' field with text "
                f"(fields present: {', '.join(sorted(record)) or 'none'}; "
                "set seeds.instruction_field in the config or --instruction-field)"
            )
        seed_id = record_id(record, id_field, f"{path} {where}", SeedError) or f"seed-{len(seeds) + 1}"
        if seed_id in ids:
            raise SeedError(f"{path} {where}: duplicate id '{seed_id}'")
        ids.add(seed_id)
        extra = record.get("input")
        if isinstance(extra, str) and extra.strip():  # a task's input is part of the request
            text = f"{text.strip()}\n\n{extra.strip()}"
        seeds.append((Seed(seed_id, text.strip()), record, where))
    return seeds


def read_records(path: str | Path, what: str = "seeds file") -> list[tuple[str, dict]]:
    """Every record of a seeds file as ``(where, record)``; ``where`` names it in errors.

    Files go through ``codeclm_dspy.files``: UTF-8, nesting, quoting and
    unusable text are refused there with the file and line named.

    Raises:
        SeedError: missing, unreadable or empty file, or a bad line.
    """
    path = Path(path)
    if path.is_dir():
        records = _read_hf(path)
    elif path.suffix.lower() == ".csv":
        records = csv_records(path, what, SeedError)
    else:
        records = json_records(path, what, SeedError)
    if not records:
        raise SeedError(f"{path} holds no {'seed instructions' if what == 'seeds file' else 'records'}")
    return records


def _read_hf(path: Path) -> list[tuple[str, dict]]:
    import datasets

    try:
        data = datasets.load_from_disk(str(path))
    except Exception as exc:
        raise SeedError(f"{path} is not a saved HF dataset ({exc})") from None
    if isinstance(data, datasets.DatasetDict):
        if len(data) != 1:
            raise SeedError(f"{path} holds several splits ({', '.join(data)}); save just one")
        data = next(iter(data.values()))
    return [
        (f"row {n}", check_record(row, f"{path} row {n}", SeedError)) for n, row in enumerate(data, start=1)
    ]


def load_metadata(path: str | Path) -> list[Metadata]:
    """Read user-written metadata: the paper's entry without seed instructions.

    Each record has a ``use_case`` (text) and ``skills`` (a list of texts, or
    one comma-separated text), and optionally an ``id``; records are read
    like seeds (JSONL, CSV or a saved dataset). Whether a use case or skill
    is usable (words, not too long) is the quality gates' call, per record.

    Raises:
        SeedError: missing or empty file, a malformed line, or a record
            without a use case or skills (named).
    """
    path = Path(path)
    metadata, ids = [], set()
    for where, record in read_records(path, "metadata file"):
        use_case, skills = record.get("use_case"), record.get("skills")
        if isinstance(skills, str):
            skills = skills.split(",")
        if (
            not isinstance(use_case, str)
            or not isinstance(skills, list)
            or not all(isinstance(s, str) for s in skills)
        ):
            raise SeedError(
                f"{path} {where}: a metadata record needs 'use_case' (text) and 'skills' (a list of texts) "
                f"(fields present: {', '.join(sorted(record)) or 'none'})"
            )
        meta_id = record_id(record, "id", f"{path} {where}", SeedError) or f"metadata-{len(metadata) + 1}"
        if meta_id in ids:
            raise SeedError(f"{path} {where}: duplicate id '{meta_id}'")
        ids.add(meta_id)
        cleaned = dict.fromkeys(" ".join(s.split()) for s in skills if s.strip())
        metadata.append(Metadata(meta_id, " ".join(use_case.split()), tuple(cleaned), (meta_id,)))
    return metadata
