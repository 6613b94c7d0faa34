"""Quality gates: broken answers, leaked prompts and junk metadata are never kept."""

import json

import pytest

import codeclm_dspy as cc
from codeclm_dspy import secrets
from codeclm_dspy.errors import ConfigError
from codeclm_dspy.pipeline.program import CodecLM
from codeclm_dspy.pipeline.quality import Answer, Gates, QualityConfig
from codeclm_dspy.pipeline.records import Seed
from codeclm_dspy.pipeline.text import duplicate_key
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


def test_refusals_are_found_whatever_their_typography():
    gates = CodecLM().gates()
    for refusal in (
        "I\u2019m sorry, but I can\u2019t help with that.",
        "I can\u2019t help with that.",
        "I'm unable to help with that request.",
        "I'm not able to assist with this.",
        "**I'm sorry**, but I cannot help with this.",
        "> \u201cI am afraid I won't be able to do that.\u201d",
        "Unfortunately, I cannot help with that request.",
        "My apologies, but I cannot write this.",
        "\u200bI must respectfully decline.",
    ):
        assert gates.answer(refusal).reason == "refusal", refusal
    for answer in (
        "I'm sorry to hear about your dog. Here is how to cope: ...",
        "I cannot help the way I feel / about the sea at night",  # a lyric, not a refusal
        "I can't help but admire the view: the ridge, the lake, the light.",
        "I'm afraid of heights too; start with a low climbing wall.",
        "Unfortunately, there is no cure for the common cold, but rest helps.",
    ):
        assert gates.answer(answer) is None, answer
    # the openings stay the user's to replace
    own = Gates(QualityConfig(refusal_patterns=[r"nope\b"]))
    assert own.answer("**Nope.**").reason == "refusal" and own.answer("I'm sorry, I cannot help.") is None


def test_an_instruction_that_is_a_refusal_is_rejected():
    gates = CodecLM().gates()
    for text in (
        "I'm sorry, but I can't help with writing these requests.",
        "As an AI language model, I cannot generate requests of this kind.",
    ):
        assert gates.instruction(text).reason == "refusal", text
    assert gates.instruction("I'm afraid of flying. How can I calm down on a long flight?") is None


# A disclaimer, then a real answer (GPT-4 often answers like this).
FIVE_TIPS = (
    "1. Sleep seven to nine hours a night.\n2. Walk outside for twenty minutes each day.\n"
    "3. Write down three things that went well.\n4. Call a friend once a week.\n"
    "5. Keep your phone out of the bedroom."
)
TIPS = "As an AI, I don't have personal feelings, but here are five tips:\n" + FIVE_TIPS
LECTURE = (
    " It is important to respect the law and the rights of others, even in a story, and to look for"
    " legitimate ways to settle a dispute. If you have any other questions, feel free to ask and I will"
    " do my best to give you helpful and lawful information."
)


def test_a_disclaimer_followed_by_an_answer_is_kept():
    gates = CodecLM().gates()
    assert gates.answer(TIPS) is None  # refused as a refusal before disclaimers were told apart
    assert gates.answer(TIPS.replace("\n", " ")) is None  # the tips on one line
    for kept in (
        "As an AI language model, I have no opinions. As an AI, I also have no vote.\n\n" + FIVE_TIPS,
        "\u201cAs an AI\u201d, I can\u2019t feel stress, but I\u2019m sorry to hear you do. " + FIVE_TIPS,
        "> **As an AI assistant, I can't actually time travel**, but here is my guess: " + FIVE_TIPS,
    ):
        assert gates.answer(kept) is None, kept
    assert gates.instruction(TIPS) is None  # the same rule for instructions


def test_a_disclaimer_with_no_answer_after_it_is_a_refusal():
    gates = CodecLM().gates()
    for bare in (
        "As an AI language model, I cannot browse the internet.",
        "As an AI language model, I cannot",
        "As an AI, I don't have feelings. Please ask a friend instead.",  # too little follows
        "As an AI, I don't have personal feelings, but here are five tips: 1. ... 2. ...",  # no tips
        "As an AI, I don't have an opinion on that, but many people do and they disagree",  # one sentence
    ):
        assert gates.answer(bare).reason == "refusal", bare
        assert gates.instruction(bare).reason == "refusal", bare
    only = gates.answer("As an AI language model, I cannot browse the internet.")
    assert only.detail == "opens with 'As an AI language model', and only 0 words follow it"
    # saying no in the disclaimer, or right after it, is refusing however long the lecture that follows
    for lecture in (
        "As an AI, I can't help with that." + LECTURE,
        "As an AI language model, I cannot provide assistance with tax fraud." + LECTURE,
        "As an AI, I have no opinions. However, I am unable to assist with this request." + LECTURE,
        "**As an AI**\n\nI won't write this." + LECTURE,
        "> \u201cAs an AI\u2014I must respectfully decline.\u201d" + LECTURE,
    ):
        assert gates.answer(lecture).reason == "refusal", lecture
        assert gates.instruction(lecture).reason == "refusal", lecture
    said = gates.answer("As an AI, I can't help with that." + LECTURE).detail
    assert said == "opens with 'As an AI', then says \"I can't help\""


def test_a_refusal_opening_is_a_refusal_whatever_follows():
    gates = CodecLM().gates()
    for refusal in (
        "I'm sorry, but I can't help with that.",
        "I'm sorry, but I can't help with that." + LECTURE,
        "I apologize, but I cannot fulfill your request." + LECTURE,
        "Sorry, I won't do this. Here are five tips instead:\n" + FIVE_TIPS,
        "Unfortunately, I cannot write this. As an AI, I follow rules." + LECTURE,
    ):
        assert gates.answer(refusal).reason == "refusal", refusal


def test_disclaimers_are_configurable():
    lenient = Gates(QualityConfig(disclaimer_answer_words=5))
    assert lenient.answer("As an AI, I don't have feelings. Please ask a friend instead.") is None
    assert Gates(QualityConfig(disclaimer_answer_words=500)).answer(TIPS).reason == "refusal"
    assert Gates(QualityConfig(disclaimer_patterns=[])).answer("As an AI, I cannot browse.") is None
    own = Gates(QualityConfig(disclaimer_patterns=[r"as a language model\b"]))
    assert own.answer("As a language model, I cannot browse the internet.").reason == "refusal"
    assert own.answer(TIPS.replace("As an AI", "As a language model")) is None
    # a disclaimer moved among the refusal openings is refused whatever follows, as before
    strict = QualityConfig(refusal_patterns=[r"as an ai\b"], disclaimer_patterns=[])
    assert Gates(strict).answer(TIPS).detail == "opens with 'As an AI'"
    assert Gates(QualityConfig(refusals=False)).answer("As an AI, I cannot browse.") is None
    with pytest.raises(ConfigError, match="disclaimer pattern"):
        cc.parse_config(
            {
                "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/t"}},
                "quality": {"disclaimer_patterns": ["(unclosed"]},
            }
        )


def test_an_answer_without_words_is_empty():
    gates = Gates()
    for empty in ("\u200b\u200b", ".", " \u2060 ,_ \n"):
        assert gates.answer(empty).reason == "empty_response", repr(empty)
    assert gates.answer("\U0001f60c\U0001f60a") is None  # an emoji reply can be the answer asked for
    assert gates.answer("42") is None


def test_a_cut_short_answer_names_the_provider_s_reason():
    gates = Gates()
    assert gates.answer(Answer("The first", "length")).detail.endswith("(finish_reason: length)")
    filtered = gates.answer(Answer("Step one is", "content_filter"))
    assert filtered.reason == "truncated_response" and "content_filter" in filtered.detail


def test_chat_templates_and_our_json_are_leaks_but_json_is_not():
    gates = CodecLM().gates()
    for leaked in (
        "<|assistant|> Paris is the capital of France.<|end|>",
        "<|user|> hi",
        "<|begin_of_text|><|start_header_id|>assistant<|end_header_id|> Paris",
        "Paris.\n### Instruction:\nName another capital.",
        "### Response: Paris is the capital.",
        '{"type": "object", "properties": {"score_1": {"type": "integer"}, "score_2": {"type": "integer"}}}',
        '```json\n{"score_1": 8, "score_2": 3}\n```',
        '{"improved_instruction": "Explain recursion with two examples."}',
    ):
        assert gates.answer(leaked).reason == "prompt_leak", leaked
    # JSON a user asked for is an answer, even keyed by a word our signatures use
    assert gates.answer('```json\n{"name": "Ada", "born": 1815}\n```') is None
    assert (
        gates.answer('{"count": 3}', instruction='Return JSON with a "count" of the vowels in "idea".')
        is None
    )
    assert gates.answer("Use a heading such as ### Response: in your notes.") is None  # not at a line start
    assert gates.answer('```python\nprint(f"{word}: {count}")\n```') is None  # a format string in code


def test_an_answer_that_repeats_its_instruction_is_rejected():
    gates, asked = Gates(), "How do I reset my password?"
    for echo in (asked, "how do I reset my password", "Question: How do I reset my password?\nAnswer:"):
        assert gates.answer(echo, instruction=asked).reason == "echoed_instruction", echo
    assert (
        gates.answer("Question: How do I reset my password? Answer: open Settings.", instruction=asked)
        is None
    )
    assert gates.answer(asked) is None  # without the instruction there is nothing to compare
    assert Gates(QualityConfig(echoed_instruction=False)).answer(asked, instruction=asked) is None


@pytest.fixture
def run_key(monkeypatch):
    """A key registered as this run's, forgotten after the test."""
    monkeypatch.setattr(secrets, "_KNOWN", set())
    key = "Zq8rT5vW2yB9nM4kL7jH3gF6dS1aP0oU"
    secrets.register(key)
    return key


def test_keys_are_never_kept(run_key):
    gates = CodecLM().gates()
    assert gates.answer(f"Set OPENAI_API_KEY={run_key} and run it.").reason == "secret"
    assert gates.instruction(f"Why does the key {run_key} fail with a 401 error?").reason == "secret"
    assert run_key not in gates.answer(f"key: {run_key}").detail  # rows are written to disk
    keys = (
        "sk-" + "T3BlbkFJ" * 6,
        "sk-proj-" + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9nP2rS5uV8xA1",
        "AKIA" + "Q3EGRTL5XJ7NDW2K",
        "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "github_pat_" + "11ABCDEFG0" * 6,
        "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "AIza" + "SyD3k9Lm2Np4Qr6St8Uv0Wx1Yz3Ab5Cd7Ef",
        "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGhIj",
    )
    for key in keys:
        assert gates.answer(f"Use this: {key}").reason == "secret", key
        assert gates.instruction(f"Debug my script; it uses {key} as the token.").reason == "secret", key
    for placeholder in (
        'export OPENAI_API_KEY="sk-your-api-key-here-xxxxxxxxxxxxxxxxxx"',
        "aws configure  # AKIAIOSFODNN7EXAMPLE, the AWS docs' own example",
        "Send the header Authorization: Bearer YOUR_ACCESS_TOKEN_HERE",
    ):
        assert gates.answer(placeholder) is None, placeholder
    assert Gates(QualityConfig(secrets=False)).answer(f"Use {keys[0]}") is None


def test_a_short_registered_value_is_not_a_secret(monkeypatch):
    monkeypatch.setattr(secrets, "_KNOWN", set())
    secrets.register("EMPTY")  # what local servers often take as their "key"
    assert Gates().answer("An EMPTY_RESULT_PLACEHOLDER flag marks an empty result set.") is None


def test_near_duplicate_instructions_share_a_key():
    forms = ("How do I reset my password", "How do I reset my password?", "How do I reset\u200b my password?")
    assert len({duplicate_key(text) for text in forms}) == 1
    full_width = "\uff28\uff2f\uff37 do I reset my password\uff1f"
    assert duplicate_key(full_width) == duplicate_key(forms[0])
    assert duplicate_key("How do I reset my passwords?") != duplicate_key(forms[0])


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
        QualityConfig(
            empty=False,
            truncated=False,
            refusals=False,
            echoed_instruction=False,
            secrets=False,
            prompt_leak=False,
            metadata=False,
        )
    )
    assert off.answer(Answer("")) is None and off.answer(Answer("cut", "length")) is None
    assert off.answer(Answer("I'm sorry, I cannot help.")) is None
    assert off.instruction("I'm sorry, I cannot help. <|user|>") is None
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
        if n == 5:
            return "Question: " + inputs["instruction"] + "\nAnswer:"
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
    for reason in ("empty_response", "truncated_response", "refusal", "echoed_instruction"):
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
