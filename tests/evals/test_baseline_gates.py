"""The baselines keep only usable pairs, and always the quota or a stated shortfall.

A comparison with CodecLM is only fair if a baseline's kept data passes the
same quality gates: an empty, cut-off or refusing answer, or an instruction
or answer that copies our prompts or DSPy's adapter text, is never kept, and
each such rejection is a row with its reason. ``num_instructions`` means kept
pairs for every method: a baseline that cannot reach it says why.
"""

import json
import threading
from collections import Counter

import pytest

import codeclm_dspy as cc
from evals.baselines.evol_instruct import GUIDANCE, too_hard
from tests.evals.test_baselines import (
    SEEDS,
    configured,
    evolve_ok,
    fresh_tasks,
    needs_rouge,
    run,
    script_baselines,
)

REFUSAL = "I'm sorry, but I can't help with that."
CUT = ("The water cycle begins when the sun warms the", "length")  # the provider stopped at max_tokens

# Tasks a brainstorm call writes that copy our prompt or DSPy's adapter, with the gate's evidence.
LEAKY_TASKS = {
    "[[ ## new_instructions ## ]]": "adapter text '[[ ##'",
    "Your input fields are: examples and count.": "adapter text 'your input fields are'",
    "Invent new tasks that a person might ask an AI assistant to do.": "copies prompt text: invent new tasks",
    "Write five tasks like {examples} for a tutor.": "field placeholder '{examples}'",
}
# Tasks that pass every filter, and the strong model's unusable answers to them.
BAD_ANSWERS = {
    "Explain photosynthesis to a curious teenager.": ("", "empty_response"),
    "Describe the water cycle in four short sentences.": (CUT, "truncated_response"),
    "Give advice on negotiating a first salary.": (REFUSAL, "refusal"),
    "Suggest five names for a friendly bakery.": ("[[ ## response ## ]]\nCrumbs & Co.", "prompt_leak"),
    "Recommend three novels for a long train journey.": ("Your output fields are: `answer`.", "prompt_leak"),
    "Plan a weekend hike for two beginners.": (
        "Sure: invent new tasks that a person might ask an AI assistant to do.",
        "prompt_leak",
    ),
}
GOOD = "Write a haiku about autumn rain."


@pytest.fixture
def steps(script, monkeypatch):
    """The script answering the baselines' steps, as in tests/evals/test_baselines.py."""
    return script_baselines(script, monkeypatch)


def answer_from(table):
    """A respond handler: the table's answer for an instruction, else a real one."""
    return lambda role, i, p: table.get(i["instruction"], (f"A careful answer to: {i['instruction']}",))[0]


@needs_rouge
def test_self_instruct_never_keeps_what_the_gates_refuse(steps):
    tasks = [*LEAKY_TASKS, *BAD_ANSWERS, GOOD]  # the good one last: every bad answer is asked first
    steps.handlers["decode"] = lambda role, i, p: {"new_instructions": tasks}
    steps.handlers["respond"] = answer_from(BAD_ANSWERS)
    counts, sink = run(
        "self-instruct", pipeline={"num_instructions": 1}, self_instruct={"instructions_per_call": len(tasks)}
    )
    assert [r["instruction"] for r in sink.kept] == [GOOD]
    rows = {r["instruction"]: r for r in sink.rejected}
    for task, evidence in LEAKY_TASKS.items():
        row = rows[task]
        assert (row["reason"], row["stage"]) == ("prompt_leak", "brainstorm"), task
        assert row["gate_detail"].startswith(evidence), row["gate_detail"]
    for task, (answer, reason) in BAD_ANSWERS.items():
        row = rows[task]
        assert (row["reason"], row["stage"]) == (reason, "respond_strong"), task
        assert row["gate_detail"] and row["response"] == (answer[0] if isinstance(answer, tuple) else answer)
    assert counts.dropped_by_reason == {
        **dict.fromkeys(counts.dropped_by_reason, 0),
        "prompt_leak": 4 + 3,
        "empty_response": 1,
        "truncated_response": 1,
        "refusal": 1,
    }
    assert counts.instructions.shortfall == 0 and counts.instructions.shortfall_reason is None


@needs_rouge
def test_self_instruct_gates_follow_the_quality_config(steps):
    steps.handlers["respond"] = lambda role, i, p: REFUSAL
    _, sink = run("self-instruct", pipeline={"num_instructions": 2}, quality={"refusals": False})
    assert [r["response"] for r in sink.kept] == [REFUSAL, REFUSAL]  # the user turned that gate off
    steps.handlers["respond"] = lambda role, i, p: CUT
    _, sink = run("self-instruct", pipeline={"num_instructions": 2}, quality={"truncated": False})
    assert len(sink.kept) == 2
    steps.handlers["respond"] = lambda role, i, p: ""
    counts, sink = run(
        "self-instruct",
        pipeline={"num_instructions": 2},
        quality={"empty": False},
        self_instruct={"max_calls": 1},
    )
    assert not sink.kept and counts.dropped_by_reason["empty_response"] > 0  # never a pair, gate or not


def test_evol_never_keeps_what_the_gates_refuse(steps):
    rewrites = {  # what each seed is rewritten into, when it is not evolve_ok's
        SEEDS[0].instruction: ("[[ ## evolved_instruction ## ]] A limerick.", "adapter text '[[ ##'"),
        SEEDS[1].instruction: ("Your input fields are: instruction, operation.", "adapter text"),
        SEEDS[2].instruction: (
            "Rewrite a user instruction as the operation describes, for recursion.",
            "copies prompt text: rewrite a user instruction as the",
        ),
        SEEDS[3].instruction: ("Plan it. " + GUIDANCE["concretize"], "copies prompt text: replace general"),
    }
    bad = ["", CUT, "As an AI language model, I cannot do that.", "[[ ## answer ## ]] Mile one: start slow."]
    answers = {  # the strong model's answer to each other seed's evolve_ok rewrite
        evolve_ok(None, {"instruction": s.instruction}, None)["evolved_instruction"]: (answer,)
        for s, answer in zip(SEEDS[4:], bad, strict=True)
    }
    steps.handlers["evolve"] = lambda r, i, p: (
        {"evolved_instruction": rewrites[i["instruction"]][0]}
        if i["instruction"] in rewrites
        else evolve_ok(r, i, p)
    )
    steps.handlers["respond"] = answer_from(answers)
    counts, sink = run("evol-instruct", pipeline={"num_instructions": 8}, evol_instruct={"rounds": 1})
    assert sink.kept == [] and counts.instructions.shortfall_reason == "rounds_exhausted"
    first = {r["parent"]: r for r in sink.rejected if r["round"] == 1}
    for seed in SEEDS[:4]:
        row, evidence = first[seed.instruction], rewrites[seed.instruction][1]
        assert (row["reason"], row["stage"]) == ("prompt_leak", "evolve")
        assert row["gate_detail"].startswith(evidence), row["gate_detail"]
    expected = ["empty_response", "truncated_response", "refusal", "prompt_leak"]
    assert [(first[s.instruction]["reason"], first[s.instruction]["stage"]) for s in SEEDS[4:]] == [
        (reason, "respond_strong") for reason in expected
    ]
    assert first[SEEDS[5].instruction]["response"] == CUT[0]
    passes = counts.passes.made  # a second pass from the seeds meets the same answers
    assert passes == 2 and counts.dropped_by_reason == {
        **dict.fromkeys(counts.dropped_by_reason, 0),
        "prompt_leak": 5 * passes,
        "empty_response": passes,
        "truncated_response": passes,
        "refusal": passes,
    }


def test_evol_answers_that_say_nothing_are_too_hard():
    """WizardLM's rule: only punctuation and stop words, or a short "sorry", is no answer."""
    for answer in ["", "...", "It is what it is, and that's that!", "No, not at all."]:
        assert too_hard(answer) == "only punctuation and stop words", answer
    assert too_hard("That one is beyond me, sorry.") == "says sorry in 6 words (under 80)"
    for answer in [
        "42.",
        "It is 42.",
        "Это ответ.",
        "Sorry to hear that. " + "Here is a plan. " * 20,
        "Yes.",
    ]:
        assert too_hard(answer) is None, answer


def test_evol_through_generate_writes_each_gate_reason_to_the_run(steps, tmp_path):
    steps.handlers["evolve"] = lambda r, i, p: {"evolved_instruction": "Your input fields are: instruction."}
    out = tmp_path / "run"
    data = cc.generate(configured("evol-instruct", pipeline={"num_instructions": 3}), SEEDS[:2], out=out)
    manifest = json.loads((out / "manifest.json").read_text())
    rows = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert len(data) == 0 and manifest["accounting"]["balanced"]
    assert {(r["reason"], r["stage"]) for r in rows} == {("prompt_leak", "evolve")}
    assert all(r["gate_detail"] == "adapter text 'your input fields are'" for r in rows)
    counts = manifest["counts"]
    assert counts["dropped_by_reason"]["prompt_leak"] == len(rows) == counts["instructions"]["generated"]
    assert counts["instructions"]["shortfall"] == 3
    assert counts["instructions"]["shortfall_reason"] == "rounds_exhausted"


# -- num_instructions is kept pairs, for every method --------------------------------------------

QUOTA = {"pipeline": {"num_instructions": 13}, "evol_instruct": {"rounds": 2}}  # > 4 seeds x 2 rounds
METHODS = [pytest.param("self-instruct", marks=needs_rouge), "evol-instruct"]


@pytest.fixture
def fresh_rewrites(steps):
    """Each request for the same parent gets a new rewrite, as a sampling model gives."""
    tries, lock = {}, threading.Lock()

    def evolve(role, inputs, params):
        with lock:  # one parent is asked once per round, so the numbering is the same for any workers
            n = tries[inputs["instruction"]] = tries.get(inputs["instruction"], 0) + 1
        return {"evolved_instruction": f"{inputs['instruction']} Then justify choice number {n} in depth."}

    steps.handlers["evolve"] = evolve
    steps.handlers["decode"] = fresh_tasks
    return steps


@pytest.mark.parametrize("method", METHODS)
def test_a_cooperating_model_gives_exactly_the_quota(fresh_rewrites, method):
    counts, sink = run(method, seeds=SEEDS[:4], **QUOTA)
    assert len(sink.kept) == counts.instructions.kept == 13
    assert counts.instructions.shortfall == 0 and counts.instructions.shortfall_reason is None
    if method == "evol-instruct":  # a second pass from the seeds: no instruction evolved more than twice
        assert counts.passes.made == 2 and max(r["iteration"] for r in sink.kept) == 2
        assert Counter(int(r["id"].rsplit("-r", 1)[1]) for r in sink.kept) == {1: 4, 2: 4, 3: 4, 4: 1}


@pytest.mark.parametrize(
    ("method", "reason"),
    [
        pytest.param("self-instruct", "calls_exhausted", marks=needs_rouge),
        ("evol-instruct", "rounds_exhausted"),
    ],
)
def test_a_model_that_always_refuses_leaves_a_shortfall_with_its_reason(fresh_rewrites, method, reason):
    fresh_rewrites.handlers["respond"] = lambda role, i, p: REFUSAL
    counts, sink = run(method, seeds=SEEDS[:4], **QUOTA)
    assert sink.kept == [] and counts.instructions.shortfall == 13
    assert counts.instructions.shortfall_reason == reason
    assert counts.dropped_by_reason["refusal"] > 0
    assert {r["reason"] for r in sink.rejected if r["stage"] == "respond_strong"} == {"refusal"}
