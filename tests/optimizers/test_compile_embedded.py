"""Compiling on the real embedded models: the judge through llama.cpp, with demos
bootstrapped from its own traces. Slow (about a minute); deselect with -m "not embedded"."""

import json

import pytest

from codeclm_dspy.config import parse_config
from optimizers import compile_program, load_program
from optimizers.students import step_predictor

SEEDS = [
    (
        "Name three primary colours.",
        "Red, yellow and blue are the traditional primary colours used in painting.",
    ),
    ("What is the boiling point of water at sea level?", "Water boils at 100 degrees Celsius at sea level."),
    ("Give a synonym for 'happy'.", "A common synonym for happy is joyful, as in a joyful celebration."),
    ("How many days are in a leap year?", "A leap year has 366 days, one more than a common year."),
]


@pytest.mark.embedded
def test_judge_compiles_on_the_embedded_models(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(
        "".join(
            json.dumps({"id": f"q{n}", "instruction": q, "reference": a}) + "\n"
            for n, (q, a) in enumerate(SEEDS)
        )
    )
    judge = {"model": "embedded/smollm2-135m-instruct", "temperature": 0.8, "max_tokens": 32}
    config = parse_config(
        {
            "models": {"strong": judge, "target": {"model": "embedded/gemma3-270m"}, "judge": judge},
            "engine": {"workers": 2},
            "compile": {
                "steps": {
                    "judge": {
                        "optimizer": "BootstrapFewShotWithRandomSearch",
                        "pass_mark": 0.5,
                        "params": {"num_candidate_programs": 1, "max_labeled_demos": 0},
                    }
                }
            },
        }
    )
    manifest = compile_program(config, seeds, tmp_path / "prog")
    step = manifest["steps"]["judge"]
    assert manifest["status"] == "complete"
    assert step["before"]["n"] == step["after"]["n"] == 2
    assert 0 <= step["before"]["mean"] <= 1 and 0 <= step["after"]["mean"] <= 1
    assert manifest["usage"]["calls"] > 0 and manifest["parse_failures"]
    program, _ = load_program(tmp_path / "prog")
    dev = {SEEDS[int(i[1:])][0] for i in manifest["seeds"]["dev"]}
    demos = step_predictor(program, "judge").demos
    assert len(demos) == step["demos"] and not any(d["instruction"] in dev for d in demos)
