"""Evol-Instruct (WizardLM, Xu et al. 2023) as a baseline: evolve the seeds.

The pool starts as the seeds. Each round, every pool instruction gets one
operation drawn at random: five in-depth ones make it harder, ``breadth``
writes a new, rarer one of the same domain. A rewrite is eliminated (the
paper's rules) when it is empty, leaks the rewriting prompt's wording,
repeats an instruction already seen, adds nothing to its parent (asked of the
strong model), or the strong model cannot answer it. A surviving rewrite is
kept with the strong model's answer and replaces its parent; an eliminated
one leaves its parent in the pool for the next round.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import dspy

from codeclm_dspy.config import EVOL_OPERATIONS, EvolInstructConfig, PipelineConfig
from codeclm_dspy.decoder import clean_instruction, normalize
from codeclm_dspy.errors import StepParseError
from codeclm_dspy.progress import NullProgress
from codeclm_dspy.records import Seed
from codeclm_dspy.runner import as_stop, failure, pmap
from evals.baselines import (
    Baseline,
    drop,
    evidence,
    first_rollout,
    lineage,
    new_counts,
    pair_row,
    reject,
    ticked,
)
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
REASONS = ("empty", "prompt_leak", "no_information_gain", "too_hard_for_the_model")
# The rewriting prompt's own words; a rewrite that copies them is not an instruction.
# Compared with "#", "_" and runs of spaces read as one space, so "#Rewritten Prompt#" and a
# copied template field such as "{evolved_instruction}" count too.
LEAKS = ("given prompt", "rewritten prompt", "given instruction", "rewritten instruction",
         "evolved instruction", "original instruction")  # fmt: skip
COPIED_WORDS = 6  # this many words in a row from an operation's text is copying it, not doing it
SORRY_WORDS = 80  # a "sorry" answer shorter than this is a refusal (WizardLM's rule)


@dataclass
class Slot:
    """One lineage: a seed and the latest kept evolution of it."""

    index: int
    seed: Seed
    text: str
    actions: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What one evolution attempt came to (reason None: it survived)."""

    text: str
    reason: str | None = None
    response: str = ""
    details: dict = field(default_factory=dict)
    error: Exception | None = None


def _runs(text: str) -> list[str]:
    """Every COPIED_WORDS consecutive words of ``text``, lower-cased."""
    words = re.findall(r"\w+", text.lower())
    return [" ".join(words[k : k + COPIED_WORDS]) for k in range(len(words) - COPIED_WORDS + 1)]


GUIDANCE_RUNS = {run for text in GUIDANCE.values() for run in _runs(text)}


def leaked(text: str) -> str | None:
    """The prompt wording a rewrite copied (scaffolding or an operation's text), if any."""
    flat = re.sub(r"[\s#_]+", " ", text.lower())
    return next((p for p in LEAKS if p in flat), None) or next(
        (run for run in _runs(flat) if run in GUIDANCE_RUNS), None
    )


def too_hard(answer: str) -> bool:
    """The strong model gave no real answer: nothing, or a short apology."""
    if not re.search(r"\w", answer):
        return True
    return "sorry" in answer.lower() and len(answer.split()) < SORRY_WORDS


class EvolInstruct(Baseline):
    """Evolve every pool instruction for ``rounds`` rounds; keep the survivors."""

    STAGES = {"evolve": ("evolve",), "elimination": ("equivalence",), "respond": ("respond_strong",)}

    def __init__(self):
        super().__init__()
        self.rewrite = dspy.Predict(EvolveInstruction)
        self.compare = dspy.Predict(SameInstruction)
        self.quota = PipelineConfig().num_instructions
        self.knobs = EvolInstructConfig()

    def configure(self, config) -> None:
        """Take the quota and the knobs."""
        self.quota = config.pipeline.num_instructions
        self.knobs = config.evol_instruct

    def attempt(self, rt, slot: Slot, operation: str, round_: int, seen: frozenset) -> Outcome:
        """Evolve one instruction and apply the elimination rules, cheapest first.

        ``seen`` is the pool before this batch; repeats among the batch are
        caught afterwards, in pool order. Each round's rewrite of a parent is
        a new request (its own rollout), so a parent that failed gets a fresh try.
        """
        text = ""
        try:
            out = rt.structured(self.rewrite, "evolve", "strong", rollout=first_rollout(rt, round_ - 1),
                                instruction=slot.text, operation=GUIDANCE[operation])  # fmt: skip
            text = clean_instruction(out.evolved_instruction)
            if not re.search(r"\w", text):
                return Outcome(text, "empty")
            if leak := leaked(text):
                return Outcome(text, "prompt_leak", details={"leaked": leak})
            if normalize(text) in seen:
                return Outcome(text, "duplicate")
            if self.knobs.elimination_check:
                same = rt.structured(self.compare, "equivalence", "strong", first=slot.text, second=text)
                if same.equivalent:
                    return Outcome(text, "no_information_gain")
            answer = rt.plain("strong", "respond_strong", text).text
            return Outcome(text, "too_hard_for_the_model" if too_hard(answer) else None, answer)
        except Exception as exc:
            if as_stop(exc) is not None:
                raise
            return Outcome(text or slot.text, error=exc)

    def run(self, rt, seeds, sink, *, random_seed: int = 0, workers: int = 1, progress=None) -> dict:
        """Evolve round by round until the quota is kept or the rounds run out."""
        progress, quota, ops = progress or NullProgress(), self.quota, self.knobs.operations
        counts = new_counts(len(seeds), quota, REASONS)
        counts["rounds"], counts["operations"] = [], {op: {"tried": 0, "kept": 0} for op in ops}
        slots = [Slot(n, seed, seed.instruction) for n, seed in enumerate(seeds)]
        order = list(slots)  # the pool order, in which the quota is filled: shuffled, not the file's
        random.Random(f"{random_seed}:evol-instruct:order").shuffle(order)
        seen = {normalize(s.instruction) for s in seeds}
        i = counts["instructions"]
        for round_ in range(1, self.knobs.rounds + 1):
            if i["kept"] >= quota:
                break
            stats = {"round": round_, "evolved": 0, "kept": 0, "dropped": 0, "duplicates": 0, "failed": 0}
            counts["rounds"].append(stats)
            pending = order
            while pending and i["kept"] < quota:  # a batch never holds more than the quota still needs
                batch, pending = pending[: quota - i["kept"]], pending[quota - i["kept"] :]
                jobs = [(s, random.Random(f"{random_seed}:evol-instruct:{s.index}:{round_}").choice(ops))
                        for s in batch]  # fmt: skip
                before = frozenset(seen)
                with progress.stage(f"evolve (round {round_})", len(jobs)) as tick:
                    step = lambda j, r=round_, b=before: ticked(tick, self.attempt, rt, *j, r, b)  # noqa: E731
                    results = pmap(step, jobs, workers)
                for (slot, op), out in results:  # in pool order
                    self._settle(slot, op, round_, out, seen, counts, stats, sink)
        i["shortfall"] = quota - i["kept"]
        counts["seeds"]["evolved"] = sum(bool(s.actions) for s in slots)
        return counts

    def _settle(self, slot: Slot, op: str, round_: int, out: Outcome, seen, counts, stats, sink) -> None:
        """Count and record one attempt; a survivor replaces its parent."""
        i = counts["instructions"]
        i["generated"] += 1
        stats["evolved"] += 1
        counts["operations"][op]["tried"] += 1
        traj = lineage(f"ev-{slot.index:05d}-r{round_:02d}", slot.seed.instruction, [*slot.actions, op],
                       [slot.seed.id])  # fmt: skip
        facts = {"parent": slot.text, "operation": op, "round": round_, **out.details}
        if out.response:
            facts["response"] = out.response
        if out.error is not None:
            i["failed"] += 1
            stats["failed"] += 1
            stage = out.error.step if isinstance(out.error, StepParseError) else "evolve"
            sink.reject(
                failure("instruction", traj.id, stage, out.error, **evidence(traj, out.text, **facts))
            )
            return
        reason = out.reason or ("duplicate" if normalize(out.text) in seen else None)
        if reason == "duplicate":
            i["duplicates"] += 1
            stats["duplicates"] += 1
            sink.reject(reject(traj, reason, "evolve", out.text, **facts))
        elif reason is not None:
            drop(counts, reason)
            stats["dropped"] += 1
            stage = {"no_information_gain": "equivalence", "too_hard_for_the_model": "respond_strong"}
            sink.reject(reject(traj, reason, stage.get(reason, "evolve"), out.text, **facts))
        else:
            seen.add(normalize(out.text))
            slot.text, slot.actions = out.text, traj.actions
            i["kept"] += 1
            i["kept_strong"] += 1
            stats["kept"] += 1
            counts["operations"][op]["kept"] += 1
            sink.keep(pair_row(traj, out.text, out.response, len(slot.actions)))

    def checks(self, counts: dict) -> dict[str, bool]:
        """Every attempt is counted in its round and under its operation."""
        generated = counts["instructions"]["generated"]
        return {
            "rounds": sum(r["evolved"] for r in counts["rounds"]) == generated
            and all(r["evolved"] == r["kept"] + r["dropped"] + r["duplicates"] + r["failed"]
                    for r in counts["rounds"]),
            "operations": sum(o["tried"] for o in counts["operations"].values()) == generated,
        }  # fmt: skip
