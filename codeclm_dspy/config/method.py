"""The method's sections: ``pipeline:`` (CodecLM), the baselines', and which fields to read."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from codeclm_dspy.config.base import SCORE_MAX, SCORE_MIN, _Strict


class PipelineConfig(_Strict):
    """The method's knobs; defaults are the paper's (CodecLM, §5.3 and A.3)."""

    # Upper bounds keep a typo (1.0e30) from running until killed.
    metadata_pool_size: int = Field(default=200, ge=1, le=100_000)
    max_skills_per_metadata: int = Field(default=3, ge=1, le=100)
    plausibility_check: bool = True
    num_instructions: int = Field(default=2000, ge=1, le=10_000_000)
    num_rubrics: int = Field(default=4, ge=1, le=100)
    max_iterations: int = Field(default=4, ge=1, le=100)
    threshold: float = 3.0
    # The paper's Table 3 ablation switches. Without Contrastive Filtering
    # every decoded instruction is kept with the strong model's answer, after
    # max_iterations - 1 Self-Rubrics improvements when self_rubrics is on
    # (there is no gap to stop the rounds early) and none when it is off.
    self_rubrics: bool = True
    contrastive_filtering: bool = True
    # num_instructions is the number of kept pairs (the paper compares methods
    # at equal data size). The first round decodes an equal share per
    # metadata; while pairs are missing, further rounds decode more,
    # round-robin over the pool with fresh rollouts, up to this many rounds.
    max_decode_rounds: int = Field(default=8, ge=1, le=1000)
    # ... and at most this many times num_instructions basic instructions go
    # through Self-Rubrics and filtering in all: the cost stays bounded when
    # the target already matches the strong model and little is kept.
    max_overdraw: float = Field(default=4.0, ge=1.0, le=100.0)
    # Mixes the plausibility check turns down are replaced by fresh mixes for
    # at most this many rounds; a pool still short after them is reported.
    max_pool_rounds: int = Field(default=3, ge=1, le=100)

    @field_validator("threshold")
    @classmethod
    def _on_the_scale(cls, value: float) -> float:
        widest = SCORE_MAX - SCORE_MIN
        if not 0 <= value < widest:
            raise ValueError(
                f"threshold must be in [0, {widest}) on the {SCORE_MIN}-{SCORE_MAX} judge scale "
                f"(a gap can never exceed {widest}, so no pair would ever be kept)"
            )
        return value


class SelfInstructConfig(_Strict):
    """The Self-Instruct baseline (Wang et al. 2022), bootstrapped from the seeds.

    Attributes:
        demos_per_prompt: example tasks shown per generation call (paper: 8).
        machine_demos: how many of them come from the generated pool once it
            has any (paper: 2; the rest are seeds).
        instructions_per_call: new instructions asked for per call.
        max_rouge_l: a new instruction whose ROUGE-L F1 with any instruction
            already in the pool reaches this is rejected (paper: 0.7).
        max_calls: generation calls before giving up on the quota (None:
            4 x the calls the quota needs).
    """

    demos_per_prompt: int = Field(default=8, ge=1, le=100)
    machine_demos: int = Field(default=2, ge=0, le=100)
    instructions_per_call: int = Field(default=8, ge=1, le=100)
    max_rouge_l: float = Field(default=0.7, gt=0, le=1)
    max_calls: int | None = Field(default=None, ge=1, le=10_000_000)


EVOL_OPERATIONS = (
    "add_constraints",
    "deepen",
    "concretize",
    "increase_reasoning",
    "complicate_input",
    "breadth",
)


class EvolInstructConfig(_Strict):
    """The Evol-Instruct baseline (WizardLM, Xu et al. 2023).

    Attributes:
        rounds: evolution epochs over the pool (paper: 4).
        operations: the evolutions drawn uniformly at random; the first five
            are in-depth, ``breadth`` writes a new, rarer instruction of the
            same domain (paper: all six).
        elimination_check: ask the strong model whether an evolved
            instruction adds nothing to its parent (WizardLM's first
            elimination rule); the rule-based checks always run.
    """

    rounds: int = Field(default=4, ge=1, le=100)
    operations: list[Literal[EVOL_OPERATIONS]] = Field(
        default_factory=lambda: list(EVOL_OPERATIONS), min_length=1
    )
    elimination_check: bool = True


class SeedsConfig(_Strict):
    """Which fields of the seed records to read."""

    instruction_field: str = "instruction"
    id_field: str = "id"


class BenchmarkConfig(_Strict):
    """Which fields of a benchmark's records ``codeclm eval`` reads.

    Attributes:
        instruction_field: the text of an item; a list of turns (MT-Bench)
            uses its first turn. An ``input`` field is appended as for seeds.
        id_field: the item's id (the line number when the field is absent).
    """

    instruction_field: str = Field(default="instruction", min_length=1)
    id_field: str = Field(default="id", min_length=1)
