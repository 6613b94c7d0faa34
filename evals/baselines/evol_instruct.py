"""Evol-Instruct (WizardLM, Xu et al. 2023) as a baseline: evolve the seeds.

The pool starts as the seeds. Each round, every pool instruction gets one
operation drawn at random: five in-depth ones make it harder, ``breadth``
writes a new, rarer one of the same domain. A rewrite is eliminated (the
paper's rules) when it is empty, copies the rewriting prompt's wording,
repeats an instruction already seen, adds nothing to its parent (asked of the
strong model), or the strong model cannot answer it (only punctuation and
stop words, or a short "sorry"). The quality gates run first: copied prompt
or guidance text is a ``prompt_leak``; an empty, truncated or refusing answer
is dropped with the gate's reason. A survivor is kept with the strong model's
answer and replaces its parent; a failure leaves its parent for the next round.

``rounds`` rounds give at most seeds x rounds pairs. When
``num_instructions`` needs more, another pass of ``rounds`` rounds starts
again from the seeds (so nothing is evolved more than ``rounds`` times, the
paper's depth), with fresh operation draws and requests, for at most
``PASS_FACTOR`` times the passes the quota needs if nothing were eliminated.
A quota still not kept is a shortfall with the reason ``rounds_exhausted``.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import ClassVar

import dspy

from codeclm_dspy.config import EVOL_OPERATIONS, EvolInstructConfig, PipelineConfig
from codeclm_dspy.engine.parallel import pmap, ticked
from codeclm_dspy.engine.retries import as_stop
from codeclm_dspy.errors import StepParseError
from codeclm_dspy.pipeline.quality import Problem
from codeclm_dspy.pipeline.records import Seed
from codeclm_dspy.pipeline.sinks import failure
from codeclm_dspy.pipeline.text import clean_instruction, normalize
from codeclm_dspy.progress import NullProgress
from evals.baselines import (
    ANSWER_REASONS,
    Baseline,
    answer_problem,
    evidence,
    first_rollout,
    keep_pair,
    lineage,
    turn_down,
)
from evals.baselines.counts import EvolInstructCounts, EvolRound, EvolSeeds, Operation, Passes
from signatures import EvolveInstruction, SameInstruction

# How each operation changes an instruction, in our own words after WizardLM's.
GUIDANCE = {
    "add_constraints": "Add one more constraint or requirement that the answer must satisfy, such as a "
    "limit, a condition, a format or an audience. Add only 10 to 20 words.",
    "deepen": "Ask about the same subject in more depth and breadth, so that a good answer has to go "
    "further into it. Add only 10 to 20 words.",
    "concretize": "Replace general concepts with more specific ones: name the particular case, "
    "object, setting or quantity. Add only 10 to 20 words.",
    "increase_reasoning": "If a few simple thinking steps would solve it, change it so that it "
    "explicitly needs several steps of reasoning. Add only 10 to 20 words.",
    "complicate_input": "Add concrete input for it to work on, written out in full inside the "
    "instruction: a small table, a code snippet, a JSON or XML record, a list of numbers or a short "
    "passage. Apart from that input, add only 10 to 20 words.",
    "breadth": "Do not edit it: use it as inspiration to write a brand-new instruction from the same "
    "domain on a rarer, less common topic, of about the same length and difficulty.",
}
if set(GUIDANCE) != set(EVOL_OPERATIONS):  # a new operation in the config needs its words here
    raise ImportError(f"GUIDANCE does not cover {sorted(set(EVOL_OPERATIONS) ^ set(GUIDANCE))}")
REASONS = ("empty", "prompt_leak", "no_information_gain", *ANSWER_REASONS, "too_hard_for_the_model")
# The rewriting prompt's own words (WizardLM's rule); a rewrite that copies them is not an instruction.
# Compared with "#", "_" and runs of spaces read as one space, so "#Rewritten Prompt#" and a
# copied template field such as "{evolved_instruction}" count too.
LEAKS = (
    "given prompt",
    "rewritten prompt",
    "given instruction",
    "rewritten instruction",
    "evolved instruction",
    "original instruction",
)
SORRY_WORDS = 80  # a "sorry" answer shorter than this is one the model could not give (WizardLM's rule)
ANSWERED = "respond_strong"  # the stage of an attempt that got as far as an answer
PASS_FACTOR = 2  # passes allowed: twice those the quota needs if every rewrite survived
# Words that carry no content of their own: an answer made only of these (and
# punctuation) answers nothing (WizardLM's rule). Our own short list.
STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below
    between both but by can cannot could did do does doing down during each either else ever few for from
    further had has have having he her here hers herself him himself his how i if in into is it its itself
    just let me more most my myself neither no nor not now of off on once only or other ought our ours
    ourselves out over own same she should so some such than that the their theirs them themselves then
    there these they this those through to too under until up upon very was we were what when where which
    while who whom whose why will with would you your yours yourself yourselves i'm i've i'd i'll you're
    you've you'd you'll he's she's it's we're we've they're they've that's there's what's let's isn't
    aren't wasn't weren't don't doesn't didn't can't couldn't won't wouldn't shouldn't haven't hasn't
    hadn't""".split()  # noqa: SIM905
)


@dataclass
class Slot:
    """One lineage: a seed and the latest kept evolution of it in this pass."""

    index: int
    seed: Seed
    text: str = ""
    actions: list[str] = field(default_factory=list)
    kept: int = 0  # evolutions kept over all passes


@dataclass
class Outcome:
    """What one evolution attempt came to (reason None: it survived)."""

    text: str
    reason: str | None = None
    response: str = ""
    details: dict = field(default_factory=dict)
    stage: str = "evolve"  # where it stopped
    error: Exception | None = None


def scaffolding(text: str) -> Problem | None:
    """The rewriting prompt's scaffolding words copied into a rewrite, if any."""
    flat = re.sub(r"[\s#_]+", " ", text.lower())
    phrase = next((p for p in LEAKS if p in flat), None)
    return Problem("prompt_leak", f"rewriting scaffolding {phrase!r}") if phrase else None


def too_hard(answer: str) -> str | None:
    """Why the strong model's answer shows it could not answer (None: it answered).

    WizardLM's rules: an answer of only punctuation and stop words (nothing
    at all included), or a short one (under ``SORRY_WORDS`` words) that says
    "sorry". Numbers and words of any script count as content.
    """
    words = re.findall(r"[^\W_]+(?:'[^\W_]+)*", answer.lower().replace("\u2019", "'"))
    if all(word in STOP_WORDS for word in words):
        return "only punctuation and stop words"
    if "sorry" in answer.lower() and len(answer.split()) < SORRY_WORDS:
        return f"says sorry in {len(answer.split())} words (under {SORRY_WORDS})"
    return None


class EvolInstruct(Baseline):
    """Evolve every pool instruction for ``rounds`` rounds, pass after pass; keep the survivors."""

    STAGES: ClassVar[dict[str, tuple[str, ...]]] = {
        "evolve": ("evolve",),
        "elimination": ("equivalence",),
        "respond": ("respond_strong",),
    }
    PROMPT_TEXTS = tuple(GUIDANCE.values())  # sent as an input, so the gates are told

    def __init__(self):
        super().__init__()
        self.rewrite = dspy.Predict(EvolveInstruction)
        self.compare = dspy.Predict(SameInstruction)
        self.quota = PipelineConfig().num_instructions
        self.knobs = EvolInstructConfig()

    def configure(self, config) -> None:
        """Take the quota, the knobs and the gates."""
        self.configure_quality(config)
        self.quota = config.pipeline.num_instructions
        self.knobs = config.evol_instruct

    def max_passes(self, n_seeds: int) -> int:
        """Passes over the seeds allowed: ``PASS_FACTOR`` x those the quota needs at best."""
        return PASS_FACTOR * math.ceil(self.quota / (max(n_seeds, 1) * self.knobs.rounds))

    def attempt(self, rt, gates, slot: Slot, operation: str, round_: int, seen: frozenset) -> Outcome:
        """Evolve one instruction and apply the elimination rules, cheapest first.

        ``seen`` is the pool before this batch; repeats among the batch are
        caught afterwards, in pool order. Each round's rewrite of a parent is
        a new request (its own rollout), so a parent that failed gets a fresh try.
        """
        text = ""
        try:
            out = rt.structured(
                self.rewrite,
                "evolve",
                "strong",
                rollout=first_rollout(rt, round_ - 1),
                instruction=slot.text,
                operation=GUIDANCE[operation],
            )
            text = clean_instruction(out.evolved_instruction)
            if not re.search(r"\w", text):
                return Outcome(text, "empty")
            if problem := gates.instruction(text) or scaffolding(text):
                return Outcome(text, problem.reason, details={"gate_detail": problem.detail})
            if normalize(text) in seen:
                return Outcome(text, "duplicate")
            if self.knobs.elimination_check:
                same = rt.structured(self.compare, "equivalence", "strong", first=slot.text, second=text)
                if same.equivalent:
                    return Outcome(text, "no_information_gain", stage="equivalence")
            answer = rt.plain("strong", "respond_strong", text)
            if problem := answer_problem(gates, answer, instruction=text):
                return Outcome(text, problem.reason, answer.text, {"gate_detail": problem.detail}, ANSWERED)
            if why := too_hard(answer.text):
                return Outcome(text, "too_hard_for_the_model", answer.text, {"elimination": why}, ANSWERED)
            return Outcome(text, None, answer.text, stage=ANSWERED)
        except Exception as exc:
            if as_stop(exc) is not None:
                raise
            return Outcome(text or slot.text, error=exc)

    def run(
        self, rt, seeds, sink, *, random_seed: int = 0, workers: int = 1, progress=None
    ) -> EvolInstructCounts:
        """Evolve round by round, pass after pass, until the quota is kept or the passes run out."""
        progress, quota, ops = progress or NullProgress(), self.quota, self.knobs.operations
        counts = EvolInstructCounts.start(
            EvolSeeds(total=len(seeds)),
            quota,
            REASONS,
            operations={op: Operation() for op in ops},
            passes=Passes(max=self.max_passes(len(seeds))),
        )
        slots = [Slot(n, seed) for n, seed in enumerate(seeds)]
        seen = {normalize(s.instruction) for s in seeds}
        gates, i, passes, round_ = self.gates(), counts.instructions, counts.passes, 0
        while i.kept < quota and passes.made < passes.max:
            passes.made += 1
            for slot in slots:  # each pass starts from the seeds themselves
                slot.text, slot.actions = slot.seed.instruction, []
            order = list(slots)  # the pool order, in which the quota is filled: shuffled, not the file's
            random.Random(f"{random_seed}:evol-instruct:order:{passes.made}").shuffle(order)
            for _ in range(self.knobs.rounds):
                if i.kept >= quota:
                    break
                round_ += 1
                stats = EvolRound(round=round_, pass_=passes.made)
                counts.rounds.append(stats)
                pending = order
                while pending and i.kept < quota:  # a batch never holds more than the quota still needs
                    batch, pending = pending[: quota - i.kept], pending[quota - i.kept :]
                    jobs = [
                        (s, random.Random(f"{random_seed}:evol-instruct:{s.index}:{round_}").choice(ops))
                        for s in batch
                    ]
                    before = frozenset(seen)
                    with progress.stage(f"evolve (round {round_})", len(jobs)) as tick:
                        step = lambda j, r=round_, b=before: ticked(tick, self.attempt, rt, gates, *j, r, b)  # noqa: E731
                        results = pmap(step, jobs, workers)
                    for (slot, op), out in results:  # in pool order
                        self._settle(slot, op, round_, out, seen, counts, stats, sink)
        i.settle("rounds_exhausted")
        counts.seeds.evolved = sum(s.kept > 0 for s in slots)
        return counts

    def _settle(
        self, slot: Slot, op: str, round_: int, out: Outcome, seen, counts: EvolInstructCounts, stats, sink
    ) -> None:
        """Count and record one attempt; a survivor replaces its parent."""
        counts.instructions.generated += 1
        stats.evolved += 1
        counts.operations[op].tried += 1
        traj = lineage(
            f"ev-{slot.index:05d}-r{round_:02d}", slot.seed.instruction, [*slot.actions, op], [slot.seed.id]
        )
        facts = {"parent": slot.text, "operation": op, "round": round_, **out.details}
        if out.response:
            facts["response"] = out.response
        if out.error is not None:
            counts.instructions.failed += 1
            stats.failed += 1
            stage = out.error.step if isinstance(out.error, StepParseError) else "evolve"
            sink.reject(
                failure("instruction", traj.id, stage, out.error, **evidence(traj, out.text, **facts))
            )
            return
        reason = out.reason or ("duplicate" if normalize(out.text) in seen else None)
        if reason is not None:
            if reason == "duplicate":
                stats.duplicates += 1
            else:
                stats.dropped += 1
            stage = "evolve" if reason == "duplicate" else out.stage
            turn_down(counts, sink, traj, reason, stage, out.text, **facts)
            return
        seen.add(normalize(out.text))
        slot.text, slot.actions = out.text, traj.actions
        slot.kept += 1
        stats.kept += 1
        counts.operations[op].kept += 1
        keep_pair(counts, sink, traj, out.text, out.response, len(slot.actions))
