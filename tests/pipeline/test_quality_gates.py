"""Quality gates: broken answers, leaked prompts and junk metadata are never kept."""

import json

import pytest

import codeclm_dspy as cc
from codeclm_dspy.errors import ConfigError
from codeclm_dspy.pipeline.program import CodecLM
from codeclm_dspy.pipeline.quality import Answer, Gates, QualityConfig
from codeclm_dspy.pipeline.records import Seed
from signatures import ImproveInstruction

IMPROVE_PROMPT = ImproveInstruction.instructions  # what the Improve step asks, word for word
ADAPTER_FRAGMENT = "Your input fields are: 1. `use_case` (str) 2. `skills` ... {new_instructions}"


def read(path):
    return [json.loads(line) for line in path.open()]


def test_answer_gates_name_their_reason():
    gates = CodecLM().gates()
    assert gates.answer(Answer("  \n ")).reason == "empty_response"
    assert gates.answer(Answer("The first three steps are", "length")).reason == "truncated_response"
    for refusal in (
        "I'm sorry, but I can't help with that.",
        "As an AI language model, I cannot",
        "I cannot provide that information.",
        "Sorry, I won't do this.",
    ):
        assert gates.answer(Answer(refusal)).reason == "refusal", refusal
    assert gates.answer(Answer("[[ ## improved_instruction ## ]] Explain it")).reason == "prompt_leak"
    assert gates.answer(Answer("Boil the pasta for nine minutes, then drain it.")) is None
    # a model echoing its chat template is not answering (the 270M base target does this)
    echoed = "<s>[INST]System 4.0.1: make your home look amazing [/INST]"
    assert gates.answer(Answer(echoed)).detail == "chat-template token '[inst]'"
    assert gates.answer(Answer("Use <s>struck</s> text for deletions in HTML.")) is None
    # an apology inside a real answer is not a refusal
    assert gates.answer(Answer("Start with: 'I am sorry for the delay in replying.'")) is None


def test_leaks_are_found_in_the_program_s_own_prompts_even_when_compiled():
    program = CodecLM()
    gates = program.gates()
    assert gates.instruction(IMPROVE_PROMPT).reason == "prompt_leak"
    assert gates.instruction(ADAPTER_FRAGMENT).reason == "prompt_leak"
    note = '# note: the value you produce must adhere to the JSON schema: {"type": "array"}'
    assert gates.instruction(note).reason == "prompt_leak"  # the JSON adapter's own wording
    assert gates.instruction("Write a haiku about {new_instructions} please") is not None
    assert gates.instruction("Write a haiku about autumn leaves falling in a quiet park") is None
    # a compiled program sends other wording: the gates know it
    new = "Transform the user's question into a far more demanding variant requiring careful multi-step work."
    program.improver.improve.signature = program.improver.improve.signature.with_instructions(new)
    assert program.gates().instruction("Please " + new.lower()).reason == "prompt_leak"
    assert gates.instruction("Please " + new.lower()) is None  # the default prompts never said it


def test_metadata_must_be_words():
    gates = Gates()
    assert gates.metadata("4.5", ["python"]).reason == "bad_metadata"
    assert gates.metadata("code generation", ["42", "python"]).reason == "bad_metadata"
    assert gates.metadata("", ["python"]).reason == "bad_metadata"
    assert gates.metadata("x" * 81, ["python"]).reason == "bad_metadata"
    assert gates.metadata("code generation", []).reason == "bad_metadata"
    assert gates.metadata("code generation", ["python", "recursion"]) is None


def test_gates_switch_off_one_by_one():
    off = Gates(
        QualityConfig(empty=False, truncated=False, refusals=False, prompt_leak=False, metadata=False)
    )
    assert off.answer(Answer("")) is None and off.answer(Answer("cut", "length")) is None
    assert off.answer(Answer("I'm sorry, I cannot help.")) is None
    assert off.metadata("4.5", ["1"]) is None


def test_a_bad_refusal_pattern_is_a_config_error():
    with pytest.raises(ConfigError, match="refusal pattern"):
        cc.parse_config(
            {
                "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/t"}},
                "quality": {"refusal_patterns": ["(unclosed"]},
            }
        )


SEEDS = [Seed(f"s{i}", f"Seed instruction number {i}") for i in range(4)]
TOPICS = {
    "0": ("4.5", ["cooking"]),
    "1": ("recipe writing", ["cooking"]),
    "2": ("trip planning", ["maps"]),
    "3": ("email drafting", ["tone"]),
}


def test_a_run_of_broken_outputs_keeps_none_of_them(script, tmp_path):
    """Empty, truncated, refused and leaked outputs, and a numeric use case: all rejected by reason."""
    script.handlers["encode"] = lambda r, i, p: dict(
        zip(("use_case", "skills"), TOPICS[i["instruction"][-1]], strict=True)
    )
    decoded = iter(range(10_000))

    def decode(role, inputs, params):
        texts = []
        for _ in range(int(inputs["count"])):
            n = next(decoded)
            texts.append(
                ADAPTER_FRAGMENT if n % 6 == 0 else f"Task {n}: help me with {inputs['use_case']} today"
            )
        return {"new_instructions": texts}

    def improve(role, inputs, params):
        return {
            "improved_instruction": IMPROVE_PROMPT
            if "Task 1:" in inputs["instruction"]
            else inputs["instruction"] + " in detail"
        }

    def respond(role, inputs, params):
        if role == "target":
            return "TARGET answer"
        n = int(inputs["instruction"].split()[1].rstrip(":"))
        return {
            1: "ignored",
            2: "",
            3: ("The first step is", "length"),
            4: "I'm sorry, but I can't help with that.",
        }.get(n % 6, f"A full answer to task {n}.")

    def judge(role, inputs, params):
        # the target always loses clearly at iteration 2, never at iteration 1
        harder = inputs["instruction"].endswith("in detail")
        strong_first = inputs["answer_2"] == "TARGET answer"
        good, bad = (9, 2) if harder else (5, 5)
        return {"score_1": good, "score_2": bad} if strong_first else {"score_1": bad, "score_2": good}

    script.handlers.update(decode=decode, improve=improve, respond=respond, judge=judge)
    cfg = cc.parse_config(
        {
            "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
            "pipeline": {
                "metadata_pool_size": 3,
                "num_instructions": 6,
                "max_iterations": 2,
                "threshold": 3,
                "plausibility_check": False,
            },
            "engine": {"workers": 2, "cache": False, "parse_retries": 0},
        }
    )
    cc.generate(cfg, SEEDS, tmp_path / "run")
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    kept, rejected = read(run / "kept.jsonl"), read(run / "rejected.jsonl")
    assert manifest["status"] == "complete" and manifest["accounting"]["balanced"], manifest["accounting"]

    for row in kept:
        assert row["response"].strip() and "sorry" not in row["response"].lower()
        assert row["response"] != "The first step is"
        assert "Your input fields" not in row["instruction"] and row["instruction"] != IMPROVE_PROMPT
        assert row["use_case"] != "4.5"
    reasons = {(r["kind"], r["reason"], r["stage"]) for r in rejected}
    assert ("seed", "bad_metadata", "encode") in reasons
    assert ("instruction", "prompt_leak", "decode") in reasons
    assert ("instruction", "prompt_leak", "improve") in reasons
    for reason in ("empty_response", "truncated_response", "refusal"):
        assert ("instruction", reason, "respond_strong") in reasons, reason
    # the funnel counts every reason, and the counts match the rows
    by_reason = manifest["cost_funnel"]["not_kept_by_reason"]
    instruction_rows = [r for r in rejected if r["kind"] == "instruction"]
    for reason in {r["reason"] for r in instruction_rows}:
        assert by_reason[reason] == sum(r["reason"] == reason for r in instruction_rows)
    # num_instructions is met despite the rejections: more were decoded
    assert len(kept) == 6 and manifest["counts"]["instructions"]["shortfall"] == 0
    leak = next(r for r in rejected if r["reason"] == "prompt_leak" and r["stage"] == "improve")
    # the leaked rewrite was asked again with fresh samples before the instruction was rejected
    assert leak["refused_rewrites"] == [IMPROVE_PROMPT] * 3 and "copies prompt text" in leak["gate_detail"]
