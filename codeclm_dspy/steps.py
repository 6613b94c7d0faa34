"""The step table: every kind of LM call the CodecLM method makes, in one place.

A row names a step (the label its calls carry in usage, the journal and the
parse-failure report), the role that answers it, the stage of the cost
funnel it is paid from, where its predictor lives in the ``CodecLM``
program (what an optimizer rewrites), its signature's name in the
``signatures`` package, and whether ``codeclm compile`` can tune it. The
program's stages, compile's step list, the optimizers' predictor map and the
scripted test LM all read this table, so a new step is one new row.

Plain data on the bottom floor: the config (compile's step names) reads it
as well as the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One kind of LM call.

    Attributes:
        name: the call label ("encode", "judge", ...).
        role: the model role that answers: "strong", "target" or "judge".
        stage: the cost-funnel stage it is paid from.
        predictor: dotted path of its ``dspy.Predict`` in ``CodecLM``; None
            for a plain answer (no adapter, no signature).
        signature: the class name in ``signatures``; None for a plain answer.
        compilable: ``codeclm compile`` can tune it (it has a metric).
    """

    name: str
    role: str
    stage: str
    predictor: str | None = None
    signature: str | None = None
    compilable: bool = False


ENCODE = Step("encode", "strong", "encode", "encoder.encode", "EncodeInstruction", compilable=True)
CHECK_METADATA = Step("check_metadata", "strong", "metadata pool", "metadata_checker.check", "CheckMetadata")
DECODE = Step("decode", "strong", "decode + rubrics", "decoder.decode", "DecodeInstructions", compilable=True)
RUBRICS = Step("rubrics", "strong", "decode + rubrics", "rubric_writer.write", "WriteRubrics")
IMPROVE = Step(
    "improve", "strong", "self-rubrics + filtering", "improver.improve", "ImproveInstruction", compilable=True
)
RESPOND_STRONG = Step("respond_strong", "strong", "self-rubrics + filtering")
RESPOND_TARGET = Step("respond_target", "target", "self-rubrics + filtering")
JUDGE = Step(
    "judge", "judge", "self-rubrics + filtering", "contrastive_filter.judge", "JudgePair", compilable=True
)

STEPS = (ENCODE, CHECK_METADATA, DECODE, RUBRICS, IMPROVE, RESPOND_STRONG, RESPOND_TARGET, JUDGE)
COMPILABLE = tuple(step.name for step in STEPS if step.compilable)


def stages() -> dict[str, tuple[str, ...]]:
    """Cost-funnel stage -> the names of the steps paid from it, in pipeline order."""
    found: dict[str, tuple[str, ...]] = {}
    for step in STEPS:
        found[step.stage] = (*found.get(step.stage, ()), step.name)
    return found


def by_name(name: str) -> Step:
    """The row of step ``name``.

    Raises:
        KeyError: no such step.
    """
    return {step.name: step for step in STEPS}[name]
