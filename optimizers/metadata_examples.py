"""Decode and improve examples, which need the seeds' metadata first.

The encoder (compiled already, when ``encode`` is among the steps) turns each
seed into a use case and skills; decode examples ask for new instructions
from them, improve examples pair the seed with one Self-Rubrics action
written for them. A seed whose encoding or rubrics fail is listed as
unusable with its error, not dropped silently.
"""

from __future__ import annotations

import random

import dspy

from codeclm_dspy.config import Config
from codeclm_dspy.engine.parallel import pmap
from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.errors import first_line
from codeclm_dspy.pipeline.program import CodecLM
from codeclm_dspy.pipeline.records import Metadata
from codeclm_dspy.secrets import scrub
from optimizers.examples import SeedRecord


def decode_and_improve_examples(
    step: str,
    rt: Runtime,
    program: CodecLM,
    train: list[SeedRecord],
    dev: list[SeedRecord],
    config: Config,
    rng: random.Random,
) -> tuple[list[dspy.Example], list[dspy.Example], list[dict]]:
    """(train examples, dev examples, seeds that gave no usable metadata: id, side, error)."""

    def prepare(record: SeedRecord):
        use_case, skills = program.encoder(rt, record.instruction)
        meta = Metadata(f"compile-{record.id}", use_case, skills, (record.id,))
        actions = program.rubric_writer(rt, meta, config.pipeline.num_rubrics) if step == "improve" else []
        return use_case, skills, actions

    unusable: list[dict[str, str]] = []

    def build(records: list[SeedRecord], side: str) -> list[dspy.Example]:
        examples = []
        for record, got in pmap(prepare, records, rt.side_workers):
            if isinstance(got, Exception):
                unusable.append({"id": record.id, "side": side, "error": scrub(first_line(got))})
                continue
            use_case, skills, actions = got
            if step == "decode":
                example = dspy.Example(
                    id=record.id, use_case=use_case, skills=list(skills), count=config.compile.decode_count
                )
                examples.append(example.with_inputs("use_case", "skills", "count"))
            else:
                example = dspy.Example(
                    id=record.id,
                    instruction=record.instruction,
                    action=rng.choice(actions).action,
                    use_case=use_case,
                    skills=list(skills),
                )
                examples.append(example.with_inputs("instruction", "action"))
        return examples

    return build(train, "train"), build(dev, "dev"), unusable
