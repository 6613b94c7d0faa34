"""The Self-Instruct and Evol-Instruct baselines on scripted LMs.

What a comparison with CodecLM relies on: the quota is never exceeded and
every item is accounted for once, each filter or elimination rule leaves its
reason, kept rows have CodecLM's schema, and a run directory completes,
records its method and resumes without a new call.
"""

import hashlib
import importlib.util
import json
import sys

import datasets
import pytest

import codeclm_dspy as cc
from codeclm_dspy.errors import BudgetExhausted
from codeclm_dspy.pipeline.methods import apply_preset, make_program
from codeclm_dspy.pipeline.records import Seed
from codeclm_dspy.pipeline.sinks import MemorySink
from codeclm_dspy.runs.run_dir import kept_features
from evals.baselines.counts import Calls, Operation, Passes
from evals.baselines.evol_instruct import GUIDANCE
from tests import scripted

needs_rouge = pytest.mark.skipif(
    importlib.util.find_spec("rouge_score") is None,
    reason="the Self-Instruct baseline needs the evals extra (rouge-score)",
)

SEEDS = [
    Seed(f"s{i}", text)
    for i, text in enumerate(
        [
            "Write a limerick about a cat who learns to code.",
            "Summarise the causes of the French Revolution in three bullet points.",
            "Explain recursion to a ten-year-old with one everyday example.",
            "Plan a vegetarian dinner for six guests on a tight budget.",
            "Translate 'good morning, how are you?' into Spanish and German.",
            "List five practical tips for a first marathon.",
            "Draft a polite email asking a landlord to fix a leaking tap.",
            "Compare TCP and UDP for a beginner network engineer.",
        ]
    )
]


def fresh_tasks(role, inputs, params):
    """New, mutually distant tasks: a function of the examples shown, so runs replay."""
    tag = hashlib.sha1(inputs["examples"].encode()).hexdigest()[:6]
    count = int(inputs["count"])
    return {
        "new_instructions": [f"Describe {tag}x{k} with {tag}y{k} for {tag}z{k} readers" for k in range(count)]
    }


def evolve_ok(role, inputs, params):
    return {"evolved_instruction": inputs["instruction"] + " Then justify every choice you make."}


@pytest.fixture
def steps(script, monkeypatch):
    """The script with handlers for the baselines' steps."""
    return script_baselines(script, monkeypatch)


def script_baselines(script, monkeypatch):
    """Add handlers for the baselines' steps to ``script`` (the conftest fixture).

    The scripted provider names a step by its output fields: BrainstormTasks
    shares ``new_instructions`` with DecodeInstructions, so it answers as
    ``decode``; Evol's two new fields are routed here for these tests only.
    """
    monkeypatch.setitem(scripted.STEP_BY_FIELDS, frozenset({"evolved_instruction"}), "evolve")
    monkeypatch.setitem(scripted.STEP_BY_FIELDS, frozenset({"equivalent"}), "equivalence")
    script.handlers.update(
        {
            "decode": fresh_tasks,
            "evolve": evolve_ok,
            "equivalence": lambda role, i, p: {"equivalent": False},
            "respond": lambda role, i, p: f"A full answer to: {i['instruction']}",
        }
    )
    return script


def configured(method, **sections):
    return apply_preset(scripted.config(**sections), method)


def run(method, seeds=SEEDS, random_seed=0, **sections):
    """Run a baseline in memory; check its counts balance; return (counts, sink)."""
    cfg = configured(method, **sections)
    program = make_program(cfg)
    rt = cc.Runtime(cc.build_lms(cfg, check=False), cfg.engine.parse_retries)
    sink = MemorySink()
    try:
        counts = program.run(rt, seeds, sink, random_seed=random_seed, workers=cfg.engine.workers)
    finally:
        rt.close()
    accounting = counts.accounting(len(seeds))
    assert accounting["balanced"], accounting
    assert counts.metadata is None
    # every generated instruction reached the sink exactly once
    ids = [r["id"] for r in sink.kept + sink.rejected if r.get("kind", "instruction") == "instruction"]
    assert len(ids) == len(set(ids)) == counts.instructions.generated
    return counts, sink


def reasons(sink):
    return {r["id"]: r["reason"] for r in sink.rejected}


def assert_kept_schema(rows):
    features = kept_features()
    for row in rows:
        assert set(row) == set(features)
        assert row["source"] == "strong" and row["gap"] is None and row["judge_scores"] is None
        assert row["use_case"] == "" and row["skills"] == [] and row["metadata_id"] == ""
        assert row["messages"][0]["content"] == row["instruction"]
    data = datasets.Dataset.from_list(rows, features=features)
    assert len(data) == len(rows)


# -- Self-Instruct -------------------------------------------------------------------------------


@needs_rouge
def test_self_instruct_keeps_exactly_the_quota_and_answers_no_more(steps):
    counts, sink = run(
        "self-instruct", pipeline={"num_instructions": 5}, self_instruct={"instructions_per_call": 4}
    )
    i = counts.instructions
    assert i.kept == len(sink.kept) == 5 and i.shortfall == 0
    assert counts.calls == Calls(max=8, made=2, ok=2, failed=0)  # ceil(5 / 4) calls
    assert i.generated == 8 and counts.dropped_by_reason["over_quota"] == 3
    assert len(steps.steps("respond")) == 5  # the 3 over the quota were never answered
    assert_kept_schema(sink.kept)
    row = sink.kept[0]
    assert row["iteration"] == 1 and row["actions"] == [] and row["basic_instruction"] == row["instruction"]
    assert row["response"] == f"A full answer to: {row['instruction']}"
    assert row["seed_ids"] and set(row["seed_ids"]) <= {s.id for s in SEEDS}


@needs_rouge
def test_self_instruct_filters_leave_their_reason_and_evidence(steps):
    near = "Write a limerick about a dog who learns to code."  # one word off seed s0
    steps.handlers["decode"] = lambda role, i, p: {
        "new_instructions": [
            "  WRITE a limerick   about a cat who learns to code. ",  # the seed, other case/space
            near,
            "Describe the picture of the harbour at dawn.",
            "Hi there",
            "Define photosynthesis briefly.",  # 3 words: the paper drops it
            "   ",
            "Outline the history of the printing press in Europe.",
            "Outline the history of the printing press in Asia.",  # near the one just accepted
            "Name three prime numbers.",  # 4 words: long enough
        ]
    }
    counts, sink = run(
        "self-instruct", pipeline={"num_instructions": 2}, self_instruct={"instructions_per_call": 9}
    )
    why = {r["instruction"].strip(): r for r in sink.rejected}
    assert why["WRITE a limerick   about a cat who learns to code."]["reason"] == "duplicate"
    similar = why[near]
    assert similar["reason"] == "similar_to_pool" and similar["stage"] == "filter"
    assert similar["rouge_l"] >= 0.7 and similar["most_similar"] == SEEDS[0].instruction
    assert why["Describe the picture of the harbour at dawn."]["reason"] == "unanswerable_by_text"
    assert why["Describe the picture of the harbour at dawn."]["keyword"] == "picture"
    assert why["Hi there"]["reason"] == "length" and why[""]["reason"] == "empty"
    assert why["Define photosynthesis briefly."]["reason"] == "length"
    assert why["Define photosynthesis briefly."]["words"] == 3
    asia = why["Outline the history of the printing press in Asia."]
    assert asia["reason"] == "similar_to_pool" and asia["most_similar"].endswith("in Europe.")
    assert [r["instruction"] for r in sink.kept] == [
        "Outline the history of the printing press in Europe.",
        "Name three prime numbers.",
    ]
    assert counts.instructions.duplicates == 1 and counts.dropped_by_reason["similar_to_pool"] == 2


@needs_rouge
def test_self_instruct_gives_up_after_max_calls_with_a_shortfall(steps):
    steps.handlers["decode"] = lambda role, i, p: {"new_instructions": [SEEDS[1].instruction]}
    counts, sink = run("self-instruct", pipeline={"num_instructions": 3}, self_instruct={"max_calls": 5})
    assert counts.calls.made == 5 and len(steps.steps("decode")) == 5
    assert counts.instructions.kept == 0 and counts.instructions.shortfall == 3
    assert counts.instructions.shortfall_reason == "calls_exhausted"
    assert set(reasons(sink).values()) == {"duplicate"}


@needs_rouge
def test_self_instruct_empty_answers_and_failed_calls_are_recorded(steps):
    def flaky(role, inputs, params):  # a call that shows seed s0 gets an unparseable answer
        if SEEDS[0].instruction in json.loads(inputs["examples"]):
            return "not json"
        return fresh_tasks(role, inputs, params)

    steps.handlers["decode"] = flaky
    steps.handlers["respond"] = lambda role, i, p: "" if i["instruction"].endswith("z0 readers") else "Fine."
    counts, sink = run(
        "self-instruct",
        pipeline={"num_instructions": 6},
        self_instruct={"instructions_per_call": 2, "demos_per_prompt": 3},
    )
    failed_calls = [r for r in sink.rejected if r["kind"] == "call"]
    assert len(failed_calls) == counts.calls.failed >= 1
    assert all(r["outcome"] == "failed" and r["reason"] == "parse_error" and r["raw"] for r in failed_calls)
    assert counts.dropped_by_reason["empty_response"] >= 1
    assert not any(r["instruction"].endswith("z0 readers") for r in sink.kept)
    assert counts.instructions.kept == 6 and len(counts.rounds) > 1


@needs_rouge
def test_self_instruct_shows_generated_tasks_once_there_are_some(steps):
    seeds = {s.instruction for s in SEEDS}

    def tasks(role, inputs, params):  # round 1 (only seeds shown) writes tasks nobody answers
        first_round = set(json.loads(inputs["examples"])) <= seeds
        return {
            "new_instructions": [
                t.replace("Describe", "Outline" if first_round else "Describe")
                for t in fresh_tasks(role, inputs, params)["new_instructions"]
            ]
        }

    steps.handlers["decode"] = tasks
    steps.handlers["respond"] = lambda role, i, p: "" if i["instruction"].startswith("Outline") else "Done."
    counts, _sink = run(
        "self-instruct",
        pipeline={"num_instructions": 3},
        self_instruct={"instructions_per_call": 1, "demos_per_prompt": 3, "machine_demos": 1},
    )
    shown = [json.loads(i["examples"]) for _, i in steps.steps("decode")]
    assert len(shown) == 6 and all(len(e) == 3 for e in shown)
    assert all(set(e) <= seeds for e in shown[:3])  # round 1: only seeds
    assert all(len(set(e) - seeds) == 1 for e in shown[3:])  # round 2: one generated task each
    assert [r.kept for r in counts.rounds] == [0, 3]
    assert counts.dropped_by_reason["empty_response"] == 3


@needs_rouge
def test_self_instruct_is_deterministic_given_the_seed(steps):
    knobs = {
        "pipeline": {"num_instructions": 6},
        "self_instruct": {"instructions_per_call": 2, "demos_per_prompt": 3},
    }
    first = run("self-instruct", **knobs)[1].kept
    again = run("self-instruct", **knobs)[1].kept
    other = run("self-instruct", random_seed=1, **knobs)[1].kept
    key = sorted((r["id"], r["instruction"], tuple(r["seed_ids"])) for r in first)
    assert key == sorted((r["id"], r["instruction"], tuple(r["seed_ids"])) for r in again)
    assert key != sorted((r["id"], r["instruction"], tuple(r["seed_ids"])) for r in other)


@needs_rouge
def test_the_pruned_rouge_scan_finds_what_a_full_scan_finds():
    import random

    from rouge_score import rouge_scorer

    from evals.baselines.self_instruct import RougePool

    rng = random.Random(3)
    words = "write a short poem about the cat dog city sea explain how why list five tips for".split()  # noqa: SIM905
    pool, texts, full = RougePool(), [], rouge_scorer.RougeScorer(["rougeL"])
    for _ in range(150):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
        if texts:
            best, nearest = pool.nearest(text)
            assert best == pytest.approx(max(full.score(t, text)["rougeL"].fmeasure for t in texts))
            assert full.score(nearest, text)["rougeL"].fmeasure == pytest.approx(best)
        pool.add(text)
        texts.append(text)


def test_self_instruct_without_rouge_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "rouge_score", None)  # import fails
    with pytest.raises(cc.CodecLMError, match=r"bash scripts/setup\.sh evals"):
        make_program(configured("self-instruct"))


# -- Evol-Instruct -------------------------------------------------------------------------------


def test_each_evol_elimination_rule_leaves_its_reason(steps):
    outcome = {
        SEEDS[0].instruction: "",  # empty
        SEEDS[1].instruction: "#Rewritten Prompt#: summarise the French Revolution",  # prompt leak
        SEEDS[2].instruction: SEEDS[3].instruction,  # repeats a pool instruction
        SEEDS[3].instruction: "Plan a vegan dinner for six guests on a tight budget.",  # judged equivalent
        SEEDS[4].instruction: "Translate a legal contract from Klingon into Sindarin.",  # answered "sorry"
        SEEDS[5].instruction: "List tips. " + GUIDANCE["breadth"],  # copies the operation's text
    }
    steps.handlers["evolve"] = lambda r, i, p: (
        {"evolved_instruction": outcome[i["instruction"]]}
        if i["instruction"] in outcome
        else evolve_ok(r, i, p)
    )
    steps.handlers["equivalence"] = lambda r, i, p: {"equivalent": "vegan" in i["second"]}
    answers = {"Klingon": "That one is beyond me, sorry.", "landlord": "It is what it is, and that is that."}
    steps.handlers["respond"] = lambda r, i, p: next(
        (a for key, a in answers.items() if key in i["instruction"]), "Sure."
    )
    counts, sink = run("evol-instruct", pipeline={"num_instructions": 20}, evol_instruct={"rounds": 1})
    by_parent = {r["parent"]: r for r in sink.rejected if r["round"] == 1}
    expected = ["empty", "prompt_leak", "duplicate", "no_information_gain", "too_hard_for_the_model"]
    assert [by_parent[s.instruction]["reason"] for s in SEEDS[:5]] == expected
    assert "'rewritten prompt'" in by_parent[SEEDS[1].instruction]["gate_detail"]
    assert by_parent[SEEDS[5].instruction]["reason"] == "prompt_leak"
    assert "do not edit it use it" in by_parent[SEEDS[5].instruction]["gate_detail"]
    assert by_parent[SEEDS[3].instruction]["stage"] == "equivalence"
    sorry, stop_words = by_parent[SEEDS[4].instruction], by_parent[SEEDS[6].instruction]
    assert sorry["response"] == "That one is beyond me, sorry." and sorry["stage"] == "respond_strong"
    assert sorry["elimination"] == "says sorry in 6 words (under 80)"
    assert stop_words["reason"] == "too_hard_for_the_model"
    assert stop_words["elimination"] == "only punctuation and stop words"
    # only seed 7 survives; every further pass (2 x ceil(20 / 8 seeds x 1 round)) replays round 1,
    # where seed 7's rewrite is now a duplicate
    n = counts.passes.made
    assert n == counts.passes.max == 6 and len(counts.rounds) == 6
    assert [r["instruction"] for r in sink.kept] == [
        evolve_ok(None, {"instruction": SEEDS[7].instruction}, None)["evolved_instruction"]
    ]
    assert counts.instructions.shortfall == 19 and counts.instructions.shortfall_reason == "rounds_exhausted"
    per_pass = {"empty": 1, "prompt_leak": 2, "no_information_gain": 1, "too_hard_for_the_model": 2}
    assert {k: v for k, v in counts.dropped_by_reason.items() if v} == {k: v * n for k, v in per_pass.items()}
    assert counts.instructions.duplicates == n + n - 1
    assert_kept_schema(sink.kept)
    # the cheap rules run first: no equivalence call or answer for what they already eliminated
    cheap = {outcome[s.instruction] for s in SEEDS[:3]} | {outcome[SEEDS[5].instruction]}
    assert not cheap & {i["second"] for _, i in steps.steps("equivalence")}
    assert not (cheap | {outcome[SEEDS[3].instruction]}) & {
        i["instruction"] for _, i in steps.steps("respond")
    }


def test_a_failed_evolution_leaves_its_parent_to_the_next_round(steps):
    tries = {}

    def evolve(role, inputs, params):
        parent = inputs["instruction"]
        tries[parent] = tries.get(parent, 0) + 1
        if parent == SEEDS[0].instruction and tries[parent] == 1:
            return "not json at all"  # round 1 fails to parse ...
        if parent == SEEDS[1].instruction and tries[parent] == 1:
            return {"evolved_instruction": "Given prompt: list causes"}  # ... or leaks
        return evolve_ok(role, inputs, params)

    steps.handlers["evolve"] = evolve
    counts, sink = run(
        "evol-instruct",
        seeds=SEEDS[:3],
        pipeline={"num_instructions": 10},
        evol_instruct={"rounds": 2},
        engine={"parse_retries": 0},
    )
    kept = {r["id"]: r for r in sink.kept}
    failed = next(r for r in sink.rejected if r["outcome"] == "failed")
    assert (
        failed["id"] == "ev-00000-r01" and failed["reason"] == "parse_error" and failed["stage"] == "evolve"
    )
    assert reasons(sink)["ev-00001-r01"] == "prompt_leak"
    for n in (0, 1):  # round 2 started again from the seed itself
        row = kept[f"ev-{n:05d}-r02"]
        assert (
            row["instruction"]
            == evolve_ok(None, {"instruction": SEEDS[n].instruction}, None)["evolved_instruction"]
        )
        assert row["iteration"] == 1 and len(row["actions"]) == 1
    deep = kept["ev-00002-r02"]  # evolved twice: from its round-1 self
    assert deep["iteration"] == 2 and len(deep["actions"]) == 2
    assert deep["basic_instruction"] == SEEDS[2].instruction and deep["seed_ids"] == ["s2"]
    assert deep["instruction"].count("Then justify every choice") == 2
    assert counts.instructions.failed == 1 and counts.seeds.evolved == 3


def test_evol_stops_at_the_quota_without_evolving_more(steps):
    counts, sink = run("evol-instruct", pipeline={"num_instructions": 3}, evol_instruct={"rounds": 4})
    assert len(sink.kept) == 3 and not sink.rejected
    assert len(steps.steps("evolve")) == 3 and counts.instructions.generated == 3


def test_evol_records_a_shortfall_after_all_rounds(steps):
    steps.handlers["evolve"] = lambda r, i, p: {"evolved_instruction": "the rewritten prompt is below"}
    counts, sink = run(
        "evol-instruct", seeds=SEEDS[:2], pipeline={"num_instructions": 5}, evol_instruct={"rounds": 3}
    )
    assert counts.instructions.kept == 0 and counts.instructions.shortfall == 5
    assert counts.instructions.shortfall_reason == "rounds_exhausted"
    # two passes of three rounds: twice the one pass 5 pairs would need from 2 seeds x 3 rounds
    assert counts.passes == Passes(max=2, made=2)
    assert [(r.pass_, r.evolved) for r in counts.rounds] == [(1, 2)] * 3 + [(2, 2)] * 3
    assert set(reasons(sink).values()) == {"prompt_leak"}


def test_evol_operations_come_from_the_config(steps):
    counts, sink = run(
        "evol-instruct",
        pipeline={"num_instructions": 4},
        evol_instruct={"operations": ["breadth"], "elimination_check": False},
    )
    assert {i["operation"] for _, i in steps.steps("evolve")} == {GUIDANCE["breadth"]}
    assert all(r["actions"] == ["breadth"] for r in sink.kept)
    assert steps.steps("equivalence") == [] and counts.operations == {"breadth": Operation(tried=4, kept=4)}


# -- Through generate(): the run directory, the manifest, resume ---------------------------------

METHODS = [pytest.param("self-instruct", marks=needs_rouge), "evol-instruct"]


@pytest.mark.parametrize("method", METHODS)
def test_generate_writes_a_complete_run_and_resumes_without_calls(steps, tmp_path, method):
    cfg = configured(method, pipeline={"num_instructions": 4}, self_instruct={"instructions_per_call": 3})
    out = tmp_path / "run"
    data = cc.generate(cfg, SEEDS, out=out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["method"] == method
    assert manifest["accounting"]["balanced"] and "metadata" not in manifest["counts"]
    assert manifest["kept"] == len(data) == 4 and data.features == kept_features()
    assert set(manifest["cost_funnel"]["stages"]) == set(make_program(cfg).STAGES)
    assert manifest["usage"]["calls"] == len(steps.calls)
    kept = (out / "kept.jsonl").read_text()
    assert datasets.load_from_disk(str(out / "dataset")).to_list() == data.to_list()

    before = len(steps.calls)
    cc.generate(cfg, SEEDS, out=out)
    again = json.loads((out / "manifest.json").read_text())
    assert len(steps.calls) == before and again["this_session"]["provider_calls"] == 0
    assert again["sessions"] == 2 and (out / "kept.jsonl").read_text() == kept


@pytest.mark.parametrize("method", METHODS)
def test_a_budget_stop_resumes_to_the_uninterrupted_result(steps, tmp_path, method):
    knobs = {
        "pipeline": {"num_instructions": 6},
        "self_instruct": {"instructions_per_call": 2},
        "evol_instruct": {"rounds": 2},
    }
    cc.generate(configured(method, **knobs), SEEDS[:4], out=tmp_path / "reference")
    total = len(steps.calls)
    out = tmp_path / "stopped"
    with pytest.raises(BudgetExhausted):
        cc.generate(
            configured(method, engine={"budget": {"max_calls": total // 2}}, **knobs), SEEDS[:4], out=out
        )
    assert json.loads((out / "manifest.json").read_text())["status"] == "stopped"
    cc.generate(configured(method, **knobs), SEEDS[:4], out=out)
    assert len(steps.calls) == 2 * total  # every call paid for once
    for name in ("kept.jsonl", "rejected.jsonl"):
        assert (out / name).read_text() == (tmp_path / "reference" / name).read_text(), name


@pytest.mark.parametrize("method", METHODS)
def test_the_result_does_not_depend_on_the_number_of_workers(steps, method):
    knobs = {
        "pipeline": {"num_instructions": 12},
        "self_instruct": {"instructions_per_call": 5},
        "evol_instruct": {"rounds": 2},
    }
    one = run(method, engine={"workers": 1}, **knobs)
    many = run(method, engine={"workers": 6}, **knobs)
    assert one[0] == many[0]
    assert sorted(map(json.dumps, one[1].kept)) == sorted(map(json.dumps, many[1].kept))
    assert sorted(map(json.dumps, one[1].rejected)) == sorted(map(json.dumps, many[1].rejected))
