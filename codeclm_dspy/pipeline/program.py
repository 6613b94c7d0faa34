"""``CodecLM``: the whole method as one ``dspy.Module``.

Each step is a named submodule whose predictors an optimizer can rewrite
(``program.encoder.encode``, ``program.contrastive_filter.judge``, ...), and
the program saves and loads with DSPy's JSON state. The LMs are not part of
the program: they arrive with the ``Runtime`` at call time.
"""

from __future__ import annotations

import random

import dspy

from codeclm_dspy.config import PipelineConfig
from codeclm_dspy.engine.runtime import Runtime
from codeclm_dspy.pipeline.contrastive_filtering import ContrastiveFilter
from codeclm_dspy.pipeline.decoder import ROLLOUT_STRIDE, Decoder
from codeclm_dspy.pipeline.encoder import Encoder
from codeclm_dspy.pipeline.funnel import Funnel
from codeclm_dspy.pipeline.metadata_pool import MetadataChecker
from codeclm_dspy.pipeline.quality import Answer, Gates, QualityConfig, QualityRejected
from codeclm_dspy.pipeline.records import Attempt, Metadata, RubricAction, Seed, Trajectory
from codeclm_dspy.pipeline.self_rubrics import Improver, RubricWriter, sample_action
from codeclm_dspy.steps import IMPROVE, RESPOND_STRONG, stages

# Fresh samples of a rewrite that leaked prompt text, before the instruction is rejected.
LEAK_RESAMPLES = 2


class CodecLM(dspy.Module):
    """Encode -> metadata pool -> decode -> Self-Rubrics -> Contrastive Filtering.

    Args:
        pipeline: the method's knobs (paper defaults when omitted).
    """

    STAGES = stages()  # cost-funnel stage -> its steps, from the step table

    def __init__(self, pipeline: PipelineConfig | None = None):
        super().__init__()
        self.pipeline = pipeline or PipelineConfig()
        self.quality = QualityConfig()
        self.encoder = Encoder()
        self.metadata_checker = MetadataChecker()
        self.decoder = Decoder()
        self.rubric_writer = RubricWriter()
        self.improver = Improver()
        self.contrastive_filter = ContrastiveFilter()

    async def evolve(
        self,
        rt: Runtime,
        traj: Trajectory,
        actions: list[RubricAction],
        rng: random.Random,
        gates: Gates | None = None,
        on_attempt=None,
    ) -> str | None:
        """Run one instruction through up to T filter rounds (a coroutine: one item of the run).

        Iteration 1 judges the basic instruction itself; each later iteration
        first applies one sampled action to the current instruction (no
        actions, as when writing the rubrics failed: iteration 1 only).
        Returns the source to keep ("strong" or "target"), or None if the gap
        stayed within the threshold for all T iterations. ``traj`` records
        every step; ``on_attempt(traj)`` is called after each round (durable
        progress).

        Raises:
            QualityRejected: a rewrite leaked prompt text, or the answer to
                keep is empty, truncated, a refusal or a leak.
        """
        gates = gates or self.gates()
        instruction = traj.basic_instruction
        if not self.pipeline.contrastive_filtering:
            return await self._unfiltered(rt, traj, actions, rng, gates)
        rounds = self.pipeline.max_iterations if self.pipeline.self_rubrics and actions else 1
        for iteration in range(1, rounds + 1):
            if iteration > 1:
                instruction = await self._improve(rt, traj, instruction, actions, rng, gates)
            attempt, source = await self.contrastive_filter.acall(
                rt, instruction, iteration, self.pipeline.threshold
            )
            traj.attempts.append(attempt)
            if on_attempt is not None:
                on_attempt(traj)
            if source is not None:
                text, finish = (
                    (attempt.strong_response, attempt.strong_finish)
                    if source == "strong"
                    else (attempt.target_response, attempt.target_finish)
                )
                if problem := gates.answer(Answer(text, finish), instruction=instruction):
                    raise QualityRejected(problem, f"respond_{source}")
                return source
        return None

    async def _improve(
        self, rt: Runtime, traj: Trajectory, instruction: str, actions, rng, gates: Gates
    ) -> str:
        """One sampled action applied; a rewrite that leaks prompt text is asked again.

        A copied prompt is a bad sample, not a verdict on the instruction, so
        up to ``LEAK_RESAMPLES`` fresh samples are drawn (each its own
        request); the refused ones stay on the trajectory as evidence.
        """
        action = sample_action(actions, rng)
        traj.actions.append(action)
        stride = max(ROLLOUT_STRIDE, rt.parse_retries + 1)
        for k in range(LEAK_RESAMPLES + 1):
            improved = await self.improver.acall(rt, instruction, action, rollout=k * stride)
            problem = gates.instruction(improved)
            if problem is None:
                return improved
            traj.rewrites.append(improved)
        raise QualityRejected(problem, IMPROVE.name)

    async def _unfiltered(
        self, rt: Runtime, traj: Trajectory, actions: list[RubricAction], rng, gates: Gates
    ) -> str:
        """The ablations without Contrastive Filtering (Table 3's first rows).

        With Self-Rubrics on, all T - 1 improvements are applied (no gap can
        stop them early); the strong model answers the result, and the pair is
        kept unless the quality gates refuse that answer.
        """
        instruction = traj.basic_instruction
        improvements = self.pipeline.max_iterations - 1 if self.pipeline.self_rubrics and actions else 0
        for _ in range(improvements):
            instruction = await self._improve(rt, traj, instruction, actions, rng, gates)
        strong = await rt.aplain(RESPOND_STRONG.role, RESPOND_STRONG.name, instruction)
        traj.attempts.append(
            Attempt(
                improvements + 1, instruction, strong.text, "", None, None, None, None, strong.finish_reason
            )
        )
        if problem := gates.answer(strong, instruction=instruction):
            raise QualityRejected(problem, RESPOND_STRONG.name)
        return "strong"

    def gates(self) -> Gates:
        """The quality gates, knowing this program's prompts (compiled ones included)."""
        return Gates.for_modules(self.quality, self)

    def configure(self, config) -> None:
        """Take the method's knobs and quality gates from a validated ``Config``."""
        self.pipeline = config.pipeline
        self.quality = config.quality

    def run(
        self,
        rt: Runtime,
        seeds: list[Seed],
        sink,
        *,
        random_seed: int = 0,
        workers: int = 1,
        progress=None,
        metadata: list[Metadata] | None = None,
    ) -> Funnel:
        """Run every stage into ``sink``; return the funnel counts (see ``stages``).

        Args:
            metadata: user-written metadata to start from instead of encoding
                ``seeds`` (the paper's seedless entry).
        """
        from codeclm_dspy.pipeline.stages import run_pipeline

        return run_pipeline(
            self,
            rt,
            seeds,
            sink,
            random_seed=random_seed,
            workers=workers,
            progress=progress,
            metadata=metadata,
        )

    def forward(self, rt: Runtime, seeds: list[Seed], random_seed: int = 0, workers: int = 1):
        """Run the whole pipeline in memory.

        Returns:
            dspy.Prediction with ``kept`` rows, ``rejected`` rows and ``counts``,
            the run's ``Funnel`` (``counts.accounting(len(seeds))`` checks it).
        """
        from codeclm_dspy.pipeline.sinks import MemorySink
        from codeclm_dspy.pipeline.stages import run_pipeline

        sink = MemorySink()
        counts = run_pipeline(self, rt, seeds, sink, random_seed=random_seed, workers=workers)
        return dspy.Prediction(kept=sink.kept, rejected=sink.rejected, counts=counts)
