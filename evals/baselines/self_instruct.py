"""Self-Instruct (Wang et al. 2022) as a baseline: bootstrapping from the seeds.

The task pool starts as the seeds. Each round asks the strong model, once per
call, for new tasks shown a few pool tasks as examples (seeds, plus a couple
of generated ones once there are any). A candidate joins the pool unless it
is empty, copies our prompt's text (the ``prompt_leak`` gate), repeats a pool
task, has 3 words or fewer or more than 150 (the paper's length filter),
needs more than text, or is too close to a pool task (ROUGE-L F1 at least
``max_rouge_l``, the paper's filter). The strong model answers what joined;
an answer the quality gates refuse (empty, cut at ``max_tokens``, a refusal,
copied prompt text) is dropped with its reason, every other one is kept,
until ``num_instructions`` pairs are kept or ``max_calls`` calls are spent
(then the shortfall's reason is ``calls_exhausted``).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from typing import ClassVar

import dspy

from codeclm_dspy.config import PipelineConfig, SelfInstructConfig
from codeclm_dspy.engine.parallel import pmap, ticked
from codeclm_dspy.errors import CodecLMError, StepParseError
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
    refused,
    seed_order,
    turn_down,
)
from evals.baselines.counts import BootstrapRound, Calls, SeedTotal, SelfInstructCounts
from signatures import BrainstormTasks

FILTER_REASONS = ("empty", "prompt_leak", "length", "unanswerable_by_text", "similar_to_pool")
REASONS = (*FILTER_REASONS, *ANSWER_REASONS, "over_quota")
STAGE = {"prompt_leak": "brainstorm"}  # a gate refused what the call wrote; other reasons are the filter's
# The paper's code drops an instruction of 3 words or fewer, or of more than 150.
MIN_WORDS, MAX_WORDS = 4, 150
# Tasks a text-only model cannot do (look at, listen to, draw, open or browse
# something). The paper filters on such keywords too; this list is our own.
NON_TEXT = re.compile(
    r"\b(images?|pictures?|photos?|photographs?|videos?|audio|recordings?|diagrams?|flowcharts?|charts?"
    r"|graphs?|draw|drawing|sketch|attached|attachments?|uploaded|go to|visit the website)\b",
    re.I,
)


class MissingExtra(CodecLMError):
    """An optional dependency of a baseline is not installed."""

    exit_code = 2


def rouge_l():
    """ROUGE-L's scorer and tokenizer, imported only when a run needs them.

    Raises:
        MissingExtra: ``rouge-score`` is not installed (it is in the evals extra).
    """
    try:
        from rouge_score import rouge_scorer, tokenizers
    except ImportError:
        raise MissingExtra(
            "the self-instruct baseline filters near-duplicates with ROUGE-L (package rouge-score), which "
            "is not installed; install the evals extra: bash scripts/setup.sh evals"
        ) from None
    return rouge_scorer.RougeScorer(["rougeL"]), tokenizers.DefaultTokenizer(use_stemmer=False)


class RougePool:
    """The pool's instructions, and which is nearest a new one by ROUGE-L F1.

    Scoring a candidate against every pool task is quadratic over a run, so
    each pool task's bag of tokens is kept: an LCS never exceeds the shared
    tokens, so 2 * shared / (m + n) bounds the F1, and tasks are scored
    exactly only while that bound can still beat the best score so far. The
    answer is the one a full scan gives.
    """

    def __init__(self):
        self._scorer, self._tokenizer = rouge_l()
        self.texts: list[str] = []
        self._bags: list[tuple[Counter, int]] = []

    def add(self, text: str) -> None:
        tokens = self._tokenizer.tokenize(text)
        self.texts.append(text)
        self._bags.append((Counter(tokens), len(tokens)))

    def nearest(self, text: str) -> tuple[float, str | None]:
        """The highest ROUGE-L F1 with any pool task, and that task."""
        tokens = self._tokenizer.tokenize(text)
        bag, size = Counter(tokens), len(tokens)
        bounds = []
        for i, (other, other_size) in enumerate(self._bags):
            shared = sum((bag & other).values())
            if shared:
                bounds.append((2 * shared / (size + other_size), i))
        bounds.sort(key=lambda b: (-b[0], b[1]))
        best, where = 0.0, None
        for bound, i in bounds:
            if bound <= best:
                break
            score = self._scorer.score(self.texts[i], text)["rougeL"].fmeasure
            if score > best:
                best, where = score, i
        return best, (self.texts[where] if where is not None else None)


class SelfInstruct(Baseline):
    """Grow a task pool from the seeds; keep the strong model's answers."""

    STAGES: ClassVar[dict[str, tuple[str, ...]]] = {
        "brainstorm": ("brainstorm",),
        "respond": ("respond_strong",),
    }

    def __init__(self):
        super().__init__()
        self.brainstorm = dspy.Predict(BrainstormTasks)
        self.quota = PipelineConfig().num_instructions
        self.knobs = SelfInstructConfig()

    def configure(self, config) -> None:
        """Take the quota, knobs and gates; fail now, before a run starts, without ROUGE-L."""
        rouge_l()
        self.configure_quality(config)
        self.quota = config.pipeline.num_instructions
        self.knobs = config.self_instruct

    def max_calls(self) -> int:
        """Generation calls allowed: the knob, else 4 x what the quota needs."""
        return self.knobs.max_calls or 4 * math.ceil(self.quota / self.knobs.instructions_per_call)

    def demos(self, seeds, machine: list[tuple[str, tuple]], rng: random.Random) -> list[tuple[str, tuple]]:
        """(text, seed ids) examples for one call: a few generated, the rest seeds."""
        k = self.knobs
        n_machine = min(k.machine_demos, k.demos_per_prompt, len(machine))
        picked = rng.sample(machine, n_machine)
        picked += [
            (s.instruction, (s.id,))
            for s in rng.sample(seeds, min(k.demos_per_prompt - n_machine, len(seeds)))
        ]
        rng.shuffle(picked)
        return picked

    def screen(self, text: str, seen: set[str], pool: RougePool, gates) -> tuple[str | None, dict]:
        """Why a candidate may not join the pool (None: it may), with evidence."""
        if not re.search(r"\w", text):
            return "empty", {}
        if problem := gates.instruction(text):
            return problem.reason, {"gate_detail": problem.detail}
        if normalize(text) in seen:
            return "duplicate", {}
        if not MIN_WORDS <= len(text.split()) <= MAX_WORDS:
            return "length", {"words": len(text.split())}
        if hit := NON_TEXT.search(text):
            return "unanswerable_by_text", {"keyword": hit.group(0)}
        score, nearest = pool.nearest(text)
        if score >= self.knobs.max_rouge_l:
            return "similar_to_pool", {"rouge_l": score, "most_similar": nearest}
        return None, {"rouge_l": score, "most_similar": nearest}

    def run(
        self, rt, seeds, sink, *, random_seed: int = 0, workers: int = 1, progress=None
    ) -> SelfInstructCounts:
        """Bootstrap rounds until the quota is kept or the calls run out; return the counts."""
        progress, k, quota = progress or NullProgress(), self.knobs, self.quota
        counts = SelfInstructCounts.start(
            SeedTotal(total=len(seeds)), quota, REASONS, calls=Calls(max=self.max_calls())
        )
        calls, i = counts.calls, counts.instructions
        order, pool, seen = seed_order(seeds), RougePool(), set()
        for seed in seeds:
            pool.add(seed.instruction)
            seen.add(normalize(seed.instruction))
        machine: list[tuple[str, tuple]] = []  # generated tasks that joined the pool
        gates = self.gates()

        def brainstorm(job):
            c, shown = job
            out = rt.structured(
                self.brainstorm,
                "brainstorm",
                "strong",
                rollout=first_rollout(rt, c),
                check=lambda o: None if o.new_instructions else "no instructions",
                examples=[text for text, _ in shown],
                count=k.instructions_per_call,
            )
            return [clean_instruction(t) for t in out.new_instructions][: k.instructions_per_call]

        while i.kept < quota and calls.made < calls.max:
            stats = BootstrapRound(round=len(counts.rounds) + 1)
            counts.rounds.append(stats)
            need = math.ceil((quota - i.kept) / k.instructions_per_call)
            first = calls.made
            jobs = [
                (c, self.demos(seeds, machine, random.Random(f"{random_seed}:self-instruct:{c}")))
                for c in range(first, first + min(need, calls.max - first))
            ]
            calls.made += len(jobs)
            stats.calls = len(jobs)
            with progress.stage(f"brainstorm (round {stats.round})", len(jobs)) as tick:
                results = pmap(lambda j: ticked(tick, brainstorm, j), jobs, workers)
            accepted = []
            for (c, shown), result in results:  # in call order: filtering is sequential
                if isinstance(result, Exception):
                    calls.failed += 1
                    stage = result.step if isinstance(result, StepParseError) else "brainstorm"
                    sink.reject(failure("call", f"si-{c:05d}", stage, result, examples=[t for t, _ in shown]))
                    continue
                calls.ok += 1
                ids = sorted({i for _, some in shown for i in some}, key=order.get)
                for j, text in enumerate(result):
                    traj = lineage(f"si-{c:05d}-{j:02d}", text, [], ids)
                    i.generated += 1
                    reason, details = self.screen(text, seen, pool, gates)
                    if reason is None:
                        seen.add(normalize(text))
                        pool.add(text)
                        machine.append((text, tuple(ids)))
                        accepted.append(traj)
                        continue
                    turn_down(counts, sink, traj, reason, STAGE.get(reason, "filter"), text, **details)
            stats.candidates = sum(len(r) for _, r in results if not isinstance(r, Exception))
            stats.accepted = len(accepted)
            stats.kept = self._answer(rt, accepted, counts, sink, gates, workers, progress, stats.round)
        i.settle("calls_exhausted")  # the loop ends short only when the calls ran out
        return counts

    def _answer(self, rt, accepted, counts, sink, gates, workers, progress, round_) -> int:
        """Answer the accepted tasks, only as many at a time as the quota still needs.

        Returns how many were kept; an answer the gates refuse is dropped with
        their reason, and tasks the quota no longer needs are dropped as
        ``over_quota`` without an answer being paid for.
        """
        kept, i = 0, counts.instructions
        while accepted and i.kept < self.quota:
            batch, accepted = accepted[: self.quota - i.kept], accepted[self.quota - i.kept :]
            with progress.stage(f"respond (round {round_})", len(batch)) as tick:
                answers = pmap(
                    lambda t: ticked(tick, rt.plain, "strong", "respond_strong", t.basic_instruction),
                    batch,
                    workers,
                )
            for traj, answer in answers:
                text = traj.basic_instruction
                if isinstance(answer, Exception):
                    i.failed += 1
                    sink.reject(
                        failure("instruction", traj.id, "respond_strong", answer, **evidence(traj, text))
                    )
                elif problem := answer_problem(gates, answer, instruction=text):
                    refused(counts, sink, traj, problem, "respond_strong", text, response=answer.text)
                else:
                    kept += 1
                    keep_pair(counts, sink, traj, text, answer.text, 1)
        for traj in accepted:
            turn_down(counts, sink, traj, "over_quota", "quota", traj.basic_instruction)
        return kept
