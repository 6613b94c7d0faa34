"""Decode and improve examples, which need the seeds' metadata first.

The encoder (compiled already, when ``encode`` is among the steps) turns each
seed into a use case and skills; decode examples ask for new instructions
from them, improve examples pair the seed with one Self-Rubrics action
written for them. A seed whose encoding or rubrics fail is counted as
unusable, not dropped silently.
"""

from __future__ import annotations

import random

import dspy

from codeclm_dspy.config import Config
from codeclm_dspy.program import CodecLM
from codeclm_dspy.records import Metadata
from codeclm_dspy.runner import pmap
from codeclm_dspy.runtime import Runtime
from optimizers.examples import SeedRecord


def decode_and_improve_examples(step: str, rt: Runtime, program: CodecLM, train: list[SeedRecord],
                                dev: list[SeedRecord], config: Config,
                                rng: random.Random) -> tuple[list[dspy.Example], list[dspy.Example], int]:  # fmt: skip
    """(train examples, dev examples, seeds that gave no usable metadata) for ``step``."""

    def prepare(record: SeedRecord):
        use_case, skills = program.encoder(rt, record.instruction)
        meta = Metadata(f"compile-{record.id}", use_case, skills, (record.id,))
        actions = program.rubric_writer(rt, meta, config.pipeline.num_rubrics) if step == "improve" else []
        return use_case, skills, actions

    def build(records: list[SeedRecord]) -> tuple[list[dspy.Example], int]:
        examples, unusable = [], 0
        for record, got in pmap(prepare, records, rt.side_workers):
            if isinstance(got, Exception):
                unusable += 1
                continue
            use_case, skills, actions = got
            if step == "decode":
                example = dspy.Example(id=record.id, use_case=use_case, skills=list(skills),
                                       count=config.compile.decode_count)  # fmt: skip
                examples.append(example.with_inputs("use_case", "skills", "count"))
            else:
                example = dspy.Example(id=record.id, instruction=record.instruction,
                                       action=rng.choice(actions).action, use_case=use_case,
                                       skills=list(skills))  # fmt: skip
                examples.append(example.with_inputs("instruction", "action"))
        return examples, unusable

    train_ex, bad_train = build(train)
    dev_ex, bad_dev = build(dev)
    return train_ex, dev_ex, bad_train + bad_dev
