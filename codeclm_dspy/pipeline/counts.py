"""Typed counts: what became of every item a generator handled, and whether that adds up.

Every generator returns a ``Counts``: CodecLM its ``Funnel`` (``funnel.py``),
each baseline its own subclass (``evals/baselines/counts.py``). The sections
are dataclasses of plain integers, so a misspelt counter is an
``AttributeError`` rather than a silent new key. ``checks`` says whether the
counts add up (every item counted in exactly one outcome, the quota held),
``accounting`` is what the manifest records about that, and ``to_manifest``
is the manifest's ``counts``: plain JSON.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, fields, is_dataclass
from typing import Any


@dataclass(kw_only=True)
class Seeds:
    """Seeds in, and how each one's encoding (CodecLM §4.1) ended."""

    total: int = 0
    encoded: int = 0
    rejected: int = 0  # the metadata gate refused what the encoder wrote
    failed: int = 0

    def balanced(self, n_seeds: int) -> bool:
        """Every one of the ``n_seeds`` seeds was encoded, rejected or failed, once."""
        return self.encoded + self.rejected + self.failed == n_seeds == self.total


@dataclass(kw_only=True)
class MetadataCounts:
    """The metadata pool (CodecLM §4.1): where each metadata came from and where it went."""

    given: int = 0  # user-written metadata, the seedless entry
    given_rejected: int = 0
    from_seeds: int = 0  # unique metadata that entered the pool
    merged: int = 0  # identical to another one, merged into it
    over_pool_size: int = 0
    mixed_candidates: int = 0
    implausible: int = 0
    check_failed: int = 0
    pool: int = 0
    pool_shortfall: int = 0
    unused: int = 0  # in the pool, but the quota never needed its decode call
    rubrics_failed: int = 0

    def balanced(self, seeds: Seeds) -> bool:
        """Every encoded or given metadata, and every mixed candidate, ends once."""
        return (
            self.from_seeds + self.merged + self.over_pool_size == seeds.encoded + self.given
            and self.pool + self.implausible + self.check_failed == self.from_seeds + self.mixed_candidates
        )


@dataclass(kw_only=True)
class Decode:
    """Decode calls (CodecLM §4.1), over all the rounds the quota took."""

    rounds: int = 0
    calls: int = 0
    failed: int = 0


@dataclass(kw_only=True)
class Instructions:
    """Instructions against the quota: ``planned`` kept pairs, what was generated and how it ended.

    This is every generator's section; CodecLM adds its own outcomes
    (``CodecLMInstructions``). ``shortfall`` is the quota minus what was
    kept and ``shortfall_reason`` the cap that stopped the run short (None
    when the quota was met).
    """

    planned: int = 0
    generated: int = 0
    kept: int = 0
    kept_strong: int = 0
    dropped: int = 0
    failed: int = 0
    duplicates: int = 0
    shortfall: int = 0
    shortfall_reason: str | None = None

    def not_kept(self) -> int:
        """Generated instructions that ended any way but kept."""
        return self.dropped + self.failed + self.duplicates

    def settle(self, reason: str | None) -> None:
        """Record the shortfall against the quota and, if there is one, ``reason``."""
        self.shortfall = self.planned - self.kept
        self.shortfall_reason = reason if self.shortfall else None

    def checks(self) -> dict[str, bool]:
        """Each instruction ends once; kept plus shortfall is the quota; a shortfall has its reason."""
        return {
            "instructions": self.kept + self.not_kept() == self.generated,
            "quota": self.kept <= self.planned and self.kept + self.shortfall == self.planned,
            "shortfall_reason": (self.shortfall == 0) == (self.shortfall_reason is None),
        }


@dataclass(kw_only=True)
class CodecLMInstructions(Instructions):
    """CodecLM's outcomes besides the shared ones: gate rejections, target-model pairs, left over."""

    rejected: int = 0  # a quality gate refused it, or the decoder's output was not an instruction
    kept_target: int = 0  # kept with the target model's answer (Contrastive Filtering, §4.3)
    over_quota: int = 0  # decoded, but the quota was met before it was needed
    max_overdraw: int = 0  # decoded, but pipeline.max_overdraw stopped the run before it was filtered

    def not_kept(self) -> int:
        return super().not_kept() + self.rejected + self.over_quota + self.max_overdraw


@dataclass(kw_only=True)
class Iteration:
    """One Self-Rubrics ⇄ Contrastive Filtering round (CodecLM §4.2-4.3) over all instructions."""

    iteration: int
    judged: int = 0
    kept_strong: int = 0
    kept_target: int = 0
    sent_back: int = 0  # the gap was within the threshold: improved and judged again
    dropped: int = 0
    rejected: int = 0
    failed: int = 0


class Counts(ABC):
    """What every generator's counts have: seeds with a ``total``, and ``instructions``.

    Subclasses are dataclasses and say what adds up in ``checks``.
    ``metadata`` and ``iterations`` stay None and empty for a generator
    without a metadata pool or filter rounds.
    """

    seeds: Any  # a dataclass with ``total``
    instructions: Instructions
    metadata: MetadataCounts | None = None
    iterations: tuple[Iteration, ...] | list[Iteration] = ()

    @abstractmethod
    def not_kept_reasons(self) -> dict[str, int]:
        """Why instructions were not kept, by reason (the cost funnel's ``not_kept_by_reason``)."""

    @abstractmethod
    def checks(self, n_seeds: int) -> dict[str, bool]:
        """Each check of the counts by name, True when it adds up, for a run over ``n_seeds`` seeds."""

    def accounting(self, n_seeds: int) -> dict[str, Any]:
        """``balanced`` (every check holds) plus each check, for the manifest."""
        checks = self.checks(n_seeds)
        return {"balanced": all(checks.values()), **checks}

    def to_manifest(self) -> dict[str, Any]:
        """The counts as plain JSON: each field by name (a trailing ``_``, as in ``pass_``, dropped)."""
        return plain(self)


def plain(value: Any) -> Any:
    """``value`` with every dataclass in it turned into a dict, its fields named as in ``to_manifest``."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name.rstrip("_"): plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
