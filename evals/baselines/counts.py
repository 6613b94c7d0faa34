"""The baselines' counts, typed like CodecLM's funnel (``codeclm_dspy.pipeline.counts``).

Each baseline returns its own ``Counts``: the shared seeds, ``instructions``
and ``dropped_by_reason``, plus what the method itself counts (Self-Instruct
its calls and rounds, Evol-Instruct its rounds, operations and passes), and
``checks`` that all of it adds up. ``dropped_by_reason`` lists every reason
the method has, from the start, so a reason it does not know is a bug that
fails loudly rather than a new key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codeclm_dspy.pipeline.counts import Counts, Decode, Instructions, MetadataCounts, Seeds


@dataclass(kw_only=True)
class SeedTotal:
    """The seeds a baseline started from (it encodes none of them)."""

    total: int


@dataclass(kw_only=True)
class BaselineCounts(Counts):
    """What every baseline counts: each instruction kept, dropped (with its reason), failed or duplicate."""

    seeds: SeedTotal
    instructions: Instructions
    dropped_by_reason: dict[str, int]

    @classmethod
    def start(cls, seeds, quota: int, reasons: tuple[str, ...], **sections):
        """Counts for a run over ``seeds`` (a ``SeedTotal`` or a subclass) toward ``quota`` pairs."""
        return cls(
            seeds=seeds,
            instructions=Instructions(planned=quota),
            dropped_by_reason=dict.fromkeys(reasons, 0),
            **sections,
        )

    def keep(self) -> None:
        """Count a kept pair (always the strong model's answer)."""
        self.instructions.kept += 1
        self.instructions.kept_strong += 1

    def drop(self, reason: str) -> None:
        """Count one instruction dropped for ``reason``, one of the method's reasons."""
        if reason not in self.dropped_by_reason:
            raise ValueError(
                f"'{reason}' is not one of this method's reasons: {', '.join(self.dropped_by_reason)}"
            )
        self.instructions.dropped += 1
        self.dropped_by_reason[reason] += 1

    def not_kept_reasons(self) -> dict[str, int]:
        return dict(self.dropped_by_reason)

    def checks(self, n_seeds: int) -> dict[str, bool]:
        """Each generated instruction ends once, and the quota holds.

        Every instruction is kept, dropped (under a counted reason), failed or
        a duplicate, exactly once; kept plus shortfall is the quota, and a
        shortfall always has its reason.
        """
        return {
            "seeds": self.seeds.total == n_seeds,
            **self.instructions.checks(),
            "reasons": sum(self.dropped_by_reason.values()) == self.instructions.dropped,
        }


@dataclass(kw_only=True)
class Calls:
    """Self-Instruct's brainstorm calls: at most ``max``, each answered or failed."""

    max: int
    made: int = 0
    ok: int = 0
    failed: int = 0


@dataclass(kw_only=True)
class BootstrapRound:
    """One Self-Instruct round: its calls, the candidates they wrote, those accepted and kept."""

    round: int
    calls: int = 0
    candidates: int = 0
    accepted: int = 0
    kept: int = 0


@dataclass(kw_only=True)
class SelfInstructCounts(BaselineCounts):
    """Self-Instruct's counts: also its brainstorm calls and its rounds."""

    calls: Calls
    rounds: list[BootstrapRound] = field(default_factory=list)

    def checks(self, n_seeds: int) -> dict[str, bool]:
        """Also: calls made = calls answered + calls failed, within the cap."""
        c = self.calls
        return {**super().checks(n_seeds), "calls": c.made == c.ok + c.failed and c.made <= c.max}


@dataclass(kw_only=True)
class EvolSeeds(SeedTotal):
    """Evol-Instruct's seeds, and how many of them it evolved into a kept pair."""

    evolved: int = 0  # seeds with at least one kept evolution


@dataclass(kw_only=True)
class EvolRound:
    """One Evol-Instruct round: every attempt in it, by how it ended."""

    round: int
    pass_: int  # "pass" in the manifest
    evolved: int = 0
    kept: int = 0
    dropped: int = 0
    duplicates: int = 0
    failed: int = 0


@dataclass(kw_only=True)
class Operation:
    """One evolution operation: attempts that drew it, and those kept."""

    tried: int = 0
    kept: int = 0


@dataclass(kw_only=True)
class Passes:
    """Passes over the seeds: at most ``max``."""

    max: int
    made: int = 0


@dataclass(kw_only=True)
class EvolInstructCounts(BaselineCounts):
    """Evol-Instruct's counts: also its rounds, operations and passes over the seeds."""

    seeds: EvolSeeds
    rounds: list[EvolRound] = field(default_factory=list)
    operations: dict[str, Operation] = field(default_factory=dict)
    passes: Passes

    def checks(self, n_seeds: int) -> dict[str, bool]:
        """Also: every attempt is counted in its round and under its operation; passes stay within their cap."""
        generated = self.instructions.generated
        return {
            **super().checks(n_seeds),
            "rounds": sum(r.evolved for r in self.rounds) == generated
            and all(r.evolved == r.kept + r.dropped + r.duplicates + r.failed for r in self.rounds),
            "operations": sum(o.tried for o in self.operations.values()) == generated,
            "passes": self.passes.made <= self.passes.max,
        }


@dataclass(kw_only=True)
class BasicInstructions:
    """WizardLM+'s decoded basic instructions: duplicates, rejected, or handed to Evol-Instruct."""

    generated: int = 0
    duplicates: int = 0
    rejected: int = 0
    evolved: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(kw_only=True)
class WizardLMPlusCounts(Counts):
    """CodecLM's front half (seeds, metadata, decode), then Evol-Instruct's counts over its output.

    In the manifest Evol-Instruct's sections sit at the top level, with its
    seeds (the basic instructions) as ``evol_pool``.
    """

    seeds: Seeds
    metadata: MetadataCounts
    decode: Decode
    basic_instructions: BasicInstructions
    evol: EvolInstructCounts

    @property
    def instructions(self) -> Instructions:
        return self.evol.instructions

    def not_kept_reasons(self) -> dict[str, int]:
        return self.evol.not_kept_reasons()

    def checks(self, n_seeds: int) -> dict[str, bool]:
        """The front half's items and Evol-Instruct's each add up."""
        b = self.basic_instructions
        return {
            "seeds": self.seeds.balanced(n_seeds),
            "metadata": self.metadata.balanced(self.seeds),
            "basic_instructions": b.generated == b.duplicates + b.rejected + b.evolved,
            **{f"evol_{k}": v for k, v in self.evol.checks(b.evolved).items()},
        }

    def to_manifest(self) -> dict:
        evol = self.evol.to_manifest()
        front = {k: v for k, v in super().to_manifest().items() if k != "evol"}
        return {**evol, "evol_pool": evol["seeds"], **front}
