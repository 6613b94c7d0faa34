"""The whole program on scripted LMs: pool, accounting, state, routing."""

import itertools
import json
import random

import codeclm_dspy as cc
from codeclm_dspy.config import PipelineConfig
from codeclm_dspy.engine.lm import RoutedLM
from codeclm_dspy.pipeline.metadata_pool import mix_and_match
from codeclm_dspy.pipeline.quota import split_evenly
from codeclm_dspy.pipeline.records import Metadata, Seed

SEEDS = [Seed(f"s{i}", f"Seed instruction number {i}") for i in range(3)]
ENCODED = [
    Metadata("m00000", "code generation", ("python", "recursion"), ("s0",)),
    Metadata("m00001", "creative writing", ("poetry", "rhyme"), ("s1",)),
    Metadata("m00002", "travel planning", ("budgeting",), ("s2",)),
]


def config(**pipeline):
    return cc.parse_config(
        {
            "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
            "pipeline": pipeline,
            "engine": {"workers": 2, "cache": False},
        }
    )


def test_mix_and_match_is_reproducible_and_well_formed():
    a = mix_and_match(ENCODED, 12, 3, random.Random("0:pool"))
    b = mix_and_match(ENCODED, 12, 3, random.Random("0:pool"))
    assert a == b and len(a) == 9
    use_cases = {m.use_case for m in ENCODED}
    all_skills = {s for m in ENCODED for s in m.skills}
    keys = {(m.use_case, frozenset(m.skills)) for m in ENCODED}
    for meta in a:
        assert meta.mixed and meta.use_case in use_cases
        assert 1 <= len(meta.skills) <= 3 and len(set(meta.skills)) == len(meta.skills)
        assert set(meta.skills) <= all_skills
        assert (meta.use_case, frozenset(meta.skills)) not in keys  # never a repeat
        keys.add((meta.use_case, frozenset(meta.skills)))
        # provenance: the use case's seed and every skill's seed
        owners = {s for m in ENCODED for s in m.seed_ids if m.use_case == meta.use_case}
        owners |= {s for m in ENCODED for s in m.seed_ids if set(m.skills) & set(meta.skills)}
        assert set(meta.seed_ids) == owners
    assert mix_and_match(ENCODED, 12, 3, random.Random("1:pool")) != a


def test_mix_and_match_stops_when_combinations_run_out():
    tiny = [Metadata("m00000", "qa", ("a",), ("s0",))]
    assert mix_and_match(tiny, 10, 3, random.Random(0)) == []


def test_equal_share_per_metadata():
    assert split_evenly(10, 4) == [3, 3, 2, 2]
    assert sum(split_evenly(2000, 200)) == 2000 and set(split_evenly(2000, 200)) == {10}


def test_every_item_is_accounted_for(script, tmp_path):
    # Mixed metadata alternate plausible/implausible; the judge keeps every
    # third instruction for the strong model, every third for the target.
    verdicts = iter([True, False] * 50)
    topics = {
        "0": ("code generation", ["python", "recursion"]),
        "1": ("creative writing", ["poetry"]),
        "2": ("travel planning", ["budgeting", "maps"]),
    }
    script.handlers["encode"] = lambda r, i, p: dict(
        zip(("use_case", "skills"), topics[i["instruction"][-1]], strict=True)
    )
    script.handlers["check_metadata"] = lambda r, i, p: {"plausible": next(verdicts)}
    # a sampling model: every decode call brings new instructions
    numbers = itertools.count()
    script.handlers["decode"] = lambda r, i, p: {
        "new_instructions": [
            f"Question {next(numbers)} about {i['use_case']}" for _ in range(int(i["count"]))
        ]
    }

    def judge(role, inputs, params):
        n = int(inputs["instruction"].split()[1]) % 3
        strong, target = [(9, 2), (2, 9), (5, 5)][n]
        first = strong if inputs["answer_1"] == "STRONG answer" else target
        second = target if inputs["answer_1"] == "STRONG answer" else strong
        return {"score_1": first, "score_2": second}

    script.handlers["judge"] = judge
    cfg = config(metadata_pool_size=7, num_instructions=12, max_iterations=2)
    data = cc.generate(cfg, SEEDS, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    counts = manifest["counts"]
    assert manifest["status"] == "complete" and manifest["accounting"]["balanced"]
    # the check turns down every other mix; the pool is refilled to its size
    # (4 mixes, then 2 to replace the 2 turned down, then 1 more)
    assert counts["metadata"] == {
        **counts["metadata"],
        "from_seeds": 3,
        "mixed_candidates": 7,
        "implausible": 3,
        "pool": 7,
        "pool_shortfall": 0,
    }
    kept = [json.loads(line) for line in (tmp_path / "run" / "kept.jsonl").open()]
    rejected = [json.loads(line) for line in (tmp_path / "run" / "rejected.jsonl").open()]
    # num_instructions is the number of kept pairs: a third is dropped, so more are decoded
    assert len(kept) == len(data) == manifest["kept"] == counts["instructions"]["kept"] == 12
    assert counts["decode"]["rounds"] >= 2 and counts["instructions"]["shortfall"] == 0
    assert {r["source"] for r in kept} == {"strong", "target"}
    dropped = [r for r in rejected if r["kind"] == "instruction"]
    assert {r["reason"] for r in dropped} <= {"within_threshold", "duplicate", "over_quota"}
    assert all(len(r["attempts"]) == 2 for r in dropped if r["reason"] == "within_threshold")
    assert counts["instructions"]["generated"] == len(kept) + len(dropped)
    assert sum(r["reason"] == "implausible" for r in rejected) == 3
    assert manifest["usage"]["calls"] == len(script.calls)


def test_rewrites_that_land_on_one_instruction_are_kept_once(script, tmp_path):
    # Self-Rubrics may turn distinct basic instructions into one; the judge then keeps every copy
    script.handlers["improve"] = lambda r, i, p: {"improved_instruction": "Rewrite the onboarding guide"}

    def judge(role, inputs, params):
        hard = inputs["instruction"] == "Rewrite the onboarding guide"
        strong = 9 if hard else 5
        first, second = (strong, 5) if inputs["answer_1"] == "STRONG answer" else (5, strong)
        return {"score_1": first, "score_2": second}

    script.handlers["judge"] = judge
    cfg = config(metadata_pool_size=1, num_instructions=3, max_iterations=2, max_decode_rounds=2)
    cc.generate(cfg, SEEDS[:1], tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    kept = [json.loads(line) for line in (tmp_path / "run" / "kept.jsonl").open()]
    rejected = [json.loads(line) for line in (tmp_path / "run" / "rejected.jsonl").open()]
    assert [r["instruction"] for r in kept] == ["Rewrite the onboarding guide"]
    copies = [r for r in rejected if r["reason"] == "duplicate" and r["stage"] == "contrastive_filtering"]
    assert copies and all(r["instruction"] == "Rewrite the onboarding guide" for r in copies)
    assert manifest["accounting"]["balanced"] and manifest["counts"]["instructions"]["kept"] == 1


def test_instructions_left_at_a_cap_say_the_cap_not_over_quota(script, tmp_path):
    # the model writes twice what each decode call asks for; the judge ties every pair
    numbers = itertools.count()
    script.handlers["decode"] = lambda r, i, p: {
        "new_instructions": [
            f"Question {next(numbers)} about {i['use_case']}" for _ in range(2 * int(i["count"]))
        ]
    }
    script.handlers["judge"] = lambda role, i, p: {"score_1": 6, "score_2": 6}
    cc.generate(config(num_instructions=4, max_iterations=1, max_overdraw=1.0), SEEDS, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    counts, funnel = manifest["counts"]["instructions"], manifest["cost_funnel"]
    assert manifest["accounting"]["balanced"] and counts["kept"] == 0
    assert "max_overdraw" in funnel["shortfall_reason"]
    # 8 decoded, 4 filtered (the cap): the other 4 were never needed by a met quota
    assert counts["over_quota"] == 0 and counts["max_overdraw"] == 4
    assert funnel["not_kept_by_reason"] == {"within_threshold": 4, "max_overdraw": 4}
    rejected = [json.loads(line) for line in (tmp_path / "run" / "rejected.jsonl").open()]
    left = [r for r in rejected if r["stage"] == "quota"]
    assert len(left) == 4 and {r["reason"] for r in left} == {"max_overdraw"}


def test_kept_rows_carry_the_schema_sft_trainers_read(script):
    script.handlers["judge"] = lambda r, i, p: {
        "score_1": 9 if i["answer_1"] == "STRONG answer" else 1,
        "score_2": 9 if i["answer_2"] == "STRONG answer" else 1,
    }
    data = cc.generate(config(metadata_pool_size=1, num_instructions=2), SEEDS[:1])
    row = data[0]
    assert row["messages"] == [
        {"role": "user", "content": row["instruction"]},
        {"role": "assistant", "content": row["response"]},
    ]
    assert row["source"] == "strong" and row["response"] == "STRONG answer"
    assert row["iteration"] == 1 and row["gap"] == 8.0
    assert row["judge_scores"] == {
        "strong_first": {"strong": 9, "target": 1},
        "target_first": {"strong": 9, "target": 1},
    }
    assert row["use_case"] == "question answering" and row["skills"] == ["cooking", "chemistry"]
    assert row["actions"] == [] and row["seed_ids"] == ["s0"]


def test_parse_failures_are_retried_then_recorded(script, tmp_path):
    answers = iter(["not json at all", '{"use_case": "qa"}'])
    script.handlers["encode"] = lambda r, i, p: next(answers, "still not json")
    cfg = config(metadata_pool_size=1, num_instructions=1)
    cfg.engine.parse_retries = 2
    cc.generate(cfg, SEEDS[:1], tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["parse_failures"]["encode"] == {"attempts": 3, "parse_failures": 3, "failure_rate": 1.0}
    (row,) = [json.loads(line) for line in (tmp_path / "run" / "rejected.jsonl").open()]
    assert row["kind"] == "seed" and row["outcome"] == "failed" and row["reason"] == "parse_error"
    assert row["raw"] and manifest["counts"]["seeds"]["failed"] == 1 and manifest["accounting"]["balanced"]


def test_a_structured_answer_cut_at_max_tokens_is_never_used(script, lms):
    # JSON repair closes {"new_instructions": ["Explain how to return a damaged item and what the
    # into a list holding a cut instruction; the finish reason says it was cut, so it is asked again
    from codeclm_dspy.engine.runtime import Runtime
    from codeclm_dspy.errors import StepParseError
    from codeclm_dspy.pipeline.decoder import Decoder

    cut = ('{"new_instructions": ["Explain to a customer how to return a damaged item and what the', "length")
    whole = {"new_instructions": ["Explain how a roux thickens a sauce"]}
    answers = iter([cut, ("{}", "content_filter"), whole])
    script.handlers["decode"] = lambda r, i, p: next(answers)
    meta = Metadata("m0", "cooking", ("sauces",), ("s0",))
    assert Decoder()(Runtime(lms, parse_retries=2), meta, 1) == ["Explain how a roux thickens a sauce"]

    script.handlers["decode"] = lambda r, i, p: cut
    try:
        Decoder()(Runtime(lms, parse_retries=1), meta, 1)
    except StepParseError as exc:
        assert "cut short (finish_reason: length)" in str(exc)
    else:
        raise AssertionError("a decode cut at max_tokens was used")


def test_program_saves_and_loads_as_json_state(tmp_path):
    program = cc.CodecLM(PipelineConfig())
    program.encoder.encode.signature = program.encoder.encode.signature.with_instructions("Tuned words.")
    program.save(str(tmp_path / "program.json"))
    state = json.loads((tmp_path / "program.json").read_text())
    names = {name for name, _ in program.named_predictors()}
    assert names == {
        "encoder.encode",
        "metadata_checker.check",
        "decoder.decode",
        "rubric_writer.write",
        "improver.improve",
        "contrastive_filter.judge",
    }
    assert set(state) >= names and "api_key" not in json.dumps(state)
    loaded = cc.CodecLM(PipelineConfig())
    loaded.load(str(tmp_path / "program.json"))
    assert loaded.encoder.encode.signature.instructions == "Tuned words."
    assert len(loaded.encoder.encode.demos) == 2


def test_every_lm_is_routed_through_litellm(monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-test-not-real")
    cfg = cc.parse_config(
        {
            "models": {
                "strong": {"model": "openai/gpt-4o-mini", "api_key_env": "FAKE_KEY"},
                "target": {"model": "embedded/gemma3-270m"},
            }
        }
    )
    built = cc.build_lms(cfg)
    roles = (built.strong, built.target, built.judge)
    assert all(isinstance(lm, RoutedLM) and lm.engine is built.engine for lm in roles)
    assert built.judge.model == "openai/gpt-4o-mini"  # the judge defaults to the strong model
    assert "sk-test-not-real" not in json.dumps(built.strong.dump_state())


def test_scripted_calls_really_pass_through_litellm(script, lms, monkeypatch):
    import litellm

    seen = []
    real = litellm.completion

    def spy(*args, **kwargs):
        seen.append(kwargs.get("model"))
        return real(*args, **kwargs)

    monkeypatch.setattr(litellm, "completion", spy)
    cc.Runtime(lms).plain("target", "respond_target", "Hello?")
    assert seen == ["scripted/target"] and script.steps("respond") == [("target", {"instruction": "Hello?"})]


def test_every_array_in_a_step_schema_needs_an_item():
    from pydantic import BaseModel

    from codeclm_dspy.engine.lm import response_format_for
    from signatures import RubricAction

    class Out(BaseModel):
        skills: list[str]
        rubrics: list[RubricAction]

    sent = response_format_for(Out, "json_object_schema")
    assert sent["type"] == "json_object"
    assert {p["minItems"] for p in sent["schema"]["properties"].values()} == {1}
    openai_style = response_format_for(Out, "json_schema")["json_schema"]["schema"]
    assert openai_style["properties"]["skills"]["minItems"] == 1


def test_decoder_skips_answers_that_are_not_instructions(script, lms):
    from codeclm_dspy.engine.runtime import Runtime
    from codeclm_dspy.pipeline.decoder import Decoder

    script.handlers["decode"] = lambda r, i, p: {
        "new_instructions": [
            "new_instructions",
            "][ ][ ][",
            "Cook it now",
            "Explain how a roux thickens a sauce",
        ]
    }
    meta = Metadata("m0", "cooking", ("sauces",), ("s0",))
    assert Decoder()(Runtime(lms), meta, 3) == ["Cook it now", "Explain how a roux thickens a sauce"]
