"""Each CodecLM step as a module an optimizer can compile on its own.

A student wraps one step of a ``CodecLM`` program and a ``Runtime``: the
optimizer calls it with an example's inputs, as DSPy optimizers do, and the
step runs exactly as it does in ``generate`` (same role, parse retries,
checks, journal, cache and budget). The predictor it tunes is the program's
own; ``adopt`` copies the compiled one back into the program.
"""

from __future__ import annotations

import dspy

from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.pipeline.encoder import _unusable
from codeclm_dspy.pipeline.program import CodecLM
from codeclm_dspy.pipeline.records import Metadata
from codeclm_dspy.steps import STEPS

# step -> (the program attribute holding the step module, its predictor's name), from the step table
PREDICTORS = {step.name: tuple(step.predictor.split(".")) for step in STEPS if step.compilable}


class EncodeStudent(dspy.Module):
    """instruction -> the raw use case and skills (the metric checks their format)."""

    def __init__(self, rt: Runtime, program: CodecLM):
        super().__init__()
        self.rt, self.encoder = rt, program.encoder

    def forward(self, instruction: str) -> dspy.Prediction:
        out = self.rt.structured(
            self.encoder.encode, "encode", "strong", check=_unusable, instruction=instruction
        )
        return dspy.Prediction(use_case=str(out.use_case), skills=[str(s) for s in out.skills])


class DecodeStudent(dspy.Module):
    """metadata -> up to ``count`` distinct instructions, with the decoder's top-up rounds."""

    def __init__(self, rt: Runtime, program: CodecLM):
        super().__init__()
        self.rt, self.decoder = rt, program.decoder

    def forward(self, use_case: str, skills: list[str], count: int) -> dspy.Prediction:
        meta = Metadata("compile", use_case, tuple(skills), ())
        return dspy.Prediction(instructions=self.decoder(self.rt, meta, int(count)))


class ImproveStudent(dspy.Module):
    """instruction + action -> a harder instruction."""

    def __init__(self, rt: Runtime, program: CodecLM):
        super().__init__()
        self.rt, self.improver = rt, program.improver

    def forward(self, instruction: str, action: str) -> dspy.Prediction:
        return dspy.Prediction(improved_instruction=self.improver(self.rt, instruction, action))


class JudgeStudent(dspy.Module):
    """A reference answer against its degraded copy, judged in both orders."""

    def __init__(self, rt: Runtime, program: CodecLM):
        super().__init__()
        self.rt, self.contrastive_filter = rt, program.contrastive_filter

    def forward(self, instruction: str, reference: str, degraded: str) -> dspy.Prediction:
        return dspy.Prediction(
            scores=self.rt.run(self.contrastive_filter.score(self.rt, instruction, reference, degraded))
        )


STUDENTS = {
    "encode": EncodeStudent,
    "decode": DecodeStudent,
    "improve": ImproveStudent,
    "judge": JudgeStudent,
}


def step_predictor(module: dspy.Module, step: str) -> dspy.Predict:
    """The predictor ``step`` tunes, in a program or in a (compiled) student."""
    holder, name = PREDICTORS[step]
    return getattr(getattr(module, holder), name)


def adopt(program: CodecLM, student: dspy.Module, step: str) -> None:
    """Copy a compiled student's predictor (instructions, demos) into ``program``.

    An optimizer may pin an LM on a predictor; it is dropped, since the
    program's LMs come from the runtime and a saved program must hold none.
    """
    state = step_predictor(student, step).dump_state()
    state["lm"] = None
    step_predictor(program, step).load_state(state)
