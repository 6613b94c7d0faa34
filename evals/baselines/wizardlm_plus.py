"""WizardLM+ (CodecLM §5.2, Table 1): Evol-Instruct on CodecLM's metadata-only instructions.

The paper's strongest baseline. Plain WizardLM evolves the seed instructions;
WizardLM+ first runs CodecLM's front half (encode the seeds, build the
metadata pool, decode basic instructions) and evolves those instead. It
shares CodecLM's tailoring to the seeds' distribution, but makes
instructions harder with Evol-Instruct's generic operations rather than
metadata-specific Self-Rubrics, and keeps them without Contrastive
Filtering. Comparing the two isolates what Self-Rubrics and Contrastive
Filtering add.

The basic instructions become Evol-Instruct's pool, ``num_instructions`` of
them (the quota of kept pairs), and Evol-Instruct keeps evolving until the
quota is kept or its rounds run out.
"""

from __future__ import annotations

from typing import ClassVar

from codeclm_dspy.pipeline.funnel import Funnel
from codeclm_dspy.pipeline.metadata_pool import merge_identical
from codeclm_dspy.pipeline.program import CodecLM
from codeclm_dspy.pipeline.quota import MetaState, decode_round, split_evenly
from codeclm_dspy.pipeline.records import Metadata, Seed
from codeclm_dspy.pipeline.stages import build_pool, encode, given
from evals.baselines import Baseline
from evals.baselines.counts import BasicInstructions, WizardLMPlusCounts
from evals.baselines.evol_instruct import EvolInstruct


class WizardLMPlus(Baseline):
    """Encode -> metadata pool -> decode (CodecLM), then Evol-Instruct on the basic instructions."""

    STAGES: ClassVar[dict[str, tuple[str, ...]]] = {
        "encode": ("encode",),
        "metadata pool": ("check_metadata",),
        "decode": ("decode",),
        **EvolInstruct.STAGES,
    }

    def __init__(self):
        super().__init__()
        self.codec = CodecLM()
        self.evol = EvolInstruct()

    def configure(self, config) -> None:
        """CodecLM's front half with its ablation switches off; Evol-Instruct's knobs."""
        pipeline = config.pipeline.model_copy(update={"self_rubrics": False, "contrastive_filtering": False})
        self.codec.configure(config.model_copy(update={"pipeline": pipeline}))
        self.evol.configure(config)

    def run(
        self,
        rt,
        seeds,
        sink,
        *,
        random_seed: int = 0,
        workers: int = 1,
        progress=None,
        metadata: list[Metadata] | None = None,
    ) -> WizardLMPlusCounts:
        """Decode ``num_instructions`` basic instructions, then evolve them into the quota."""
        from codeclm_dspy.progress import NullProgress

        progress = progress or NullProgress()
        codec, quota = self.codec, self.codec.pipeline.num_instructions
        gates = codec.gates()
        front = Funnel(1, judged=False)
        front.seeds.total = len(seeds)
        found = (
            encode(codec, rt, seeds, sink, front, gates, workers, progress)
            if metadata is None
            else given(metadata, sink, front, gates)
        )
        unique, merged = merge_identical(found)
        front.metadata.merged += merged
        unique = [Metadata(f"m{k:05d}", m.use_case, m.skills, m.seed_ids) for k, m in enumerate(unique)]
        pool = build_pool(codec, rt, unique, sink, front, random_seed, workers, progress)
        basics: list[tuple[str, MetaState, str]] = []
        if pool:
            states = [MetaState(meta) for meta in pool]
            plan = [(s, n) for s, n in zip(states, split_evenly(quota, len(states)), strict=True) if n]
            front.decode.rounds += 1
            basics = decode_round(codec, rt, plan, sink, front, gates, set(), workers, progress, 1)
        evol_seeds = [Seed(traj_id, text) for traj_id, _state, text in basics]
        evol = self.evol.run(
            rt, evol_seeds, sink, random_seed=random_seed, workers=workers, progress=progress
        )
        made = front.instructions
        return WizardLMPlusCounts(
            seeds=front.seeds,
            metadata=front.metadata,
            decode=front.decode,
            basic_instructions=BasicInstructions(
                generated=made.generated,
                duplicates=made.duplicates,
                rejected=made.rejected,
                evolved=len(evol_seeds),
                by_reason=front.not_kept_by_reason,
            ),
            evol=evol,
        )
