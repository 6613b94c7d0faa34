"""The data each step is compiled and scored on, built from the user's seeds.

The seeds are split once, by a seeded shuffle, into train (what the optimizer
sees) and dev (held out for the before/after scores). Each step then turns its
side of the split into ``dspy.Example`` s:

- encode: the seed instruction (labelled when the record carries ``use_case``
  and ``skills``, which ``LabeledFewShot`` needs);
- decode and improve: built from the seeds' metadata, see ``metadata_examples.py``;
- judge: the seed with its reference answer and a degraded copy, whose order
  of merit is known.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import dspy

from codeclm_dspy.errors import SeedError
from codeclm_dspy.seeds import seed_records

REFUSAL = "I am sorry, but I cannot help with that request."
DEGRADATIONS = ("off_topic", "truncated", "refusal")


@dataclass(frozen=True)
class SeedRecord:
    """One seed with what compiling can use beyond its text."""

    id: str
    instruction: str
    reference: str = ""
    use_case: str = ""
    skills: tuple[str, ...] = ()


def load_records(
    path: str | Path, instruction_field: str, id_field: str, reference_field: str
) -> list[SeedRecord]:
    """Read seeds with their optional reference answer and metadata labels.

    Raises:
        SeedError: as ``load_seeds``; also a non-text reference.
    """
    records = []
    for seed, raw, where in seed_records(path, instruction_field, id_field):
        reference = raw.get(reference_field) or ""
        if not isinstance(reference, str):
            raise SeedError(f"{path} {where}: '{reference_field}' is not text")
        skills = raw.get("skills")
        skills = tuple(str(s) for s in skills) if isinstance(skills, list) else ()
        records.append(
            SeedRecord(seed.id, seed.instruction, reference.strip(), str(raw.get("use_case") or ""), skills)
        )
    return records


def split_records(
    records: list[SeedRecord],
    dev_fraction: float,
    seed: int,
    max_train: int | None = None,
    max_dev: int | None = None,
) -> tuple[list[SeedRecord], list[SeedRecord]]:
    """A reproducible (train, dev) split with at least one record on each side."""
    if len(records) < 2:
        raise SeedError("compiling needs at least two seeds: one to train on, one to score on")
    order = list(range(len(records)))
    random.Random(f"compile-split:{seed}").shuffle(order)
    n_dev = min(max(1, round(len(records) * dev_fraction)), len(records) - 1)
    dev = [records[i] for i in sorted(order[:n_dev])]
    train = [records[i] for i in sorted(order[n_dev:])]
    return train[:max_train], dev[:max_dev]


def encode_examples(records: list[SeedRecord]) -> list[dspy.Example]:
    examples = []
    for r in records:
        labels = {"use_case": r.use_case, "skills": list(r.skills)} if r.use_case and r.skills else {}
        examples.append(dspy.Example(id=r.id, instruction=r.instruction, **labels).with_inputs("instruction"))
    return examples


def degrade(reference: str, others: list[str], kind: str) -> tuple[str, str]:
    """A copy of ``reference`` that is known to be worse, and how it was made.

    ``truncated`` needs at least eight words and ``off_topic`` another
    reference; otherwise the next kind in ``DEGRADATIONS`` is used.
    """
    words = reference.split()
    if kind == "off_topic" and others:
        return others[0], kind
    if kind in ("off_topic", "truncated") and len(words) >= 8:
        return " ".join(words[: max(3, len(words) // 4)]), "truncated"
    return REFUSAL, "refusal"


def judge_examples(records: list[SeedRecord], seed: int) -> list[dspy.Example]:
    """Seeds with a reference, each paired with a degraded copy (kinds in rotation)."""
    usable = [r for r in records if r.reference]
    rng = random.Random(f"judge-pairs:{seed}")
    examples = []
    for n, r in enumerate(usable):
        others = [o.reference for o in usable if o.reference != r.reference]
        rng.shuffle(others)
        degraded, kind = degrade(r.reference, others, DEGRADATIONS[n % len(DEGRADATIONS)])
        examples.append(
            dspy.Example(
                id=r.id, instruction=r.instruction, reference=r.reference, degraded=degraded, degradation=kind
            ).with_inputs("instruction", "reference", "degraded")
        )
    return examples
