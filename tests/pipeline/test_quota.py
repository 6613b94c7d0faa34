"""Decode rounds drop an instruction that repeats an earlier one, across calls and metadata.

The duplicate check keeps 8 bytes per decoded instruction (``key_index.py``),
so it must still see through case and spacing, and must not drop a new one.
"""

import json

import codeclm_dspy as cc
from codeclm_dspy.pipeline.records import Seed

SEEDS = [Seed(f"s{i}", f"Seed instruction number {i}") for i in range(2)]


def test_repeats_are_rejected_as_duplicates_and_never_filtered(script, tmp_path):
    topics = ["trip planning", "recipe scaling"]
    script.handlers["encode"] = lambda r, i, p: {
        "use_case": topics[int(i["instruction"][-1])],
        "skills": ["care", "detail"],
    }
    # every metadata decodes the same first instruction, in a different case and spacing
    script.handlers["decode"] = lambda r, i, p: {
        "new_instructions": [
            "Plan a Weekend  in Rome for two people"
            if i["use_case"] == topics[0]
            else "plan a weekend in rome for TWO people",
            f"Write three checks for {i['use_case']} work",
        ]
    }
    script.handlers["judge"] = lambda r, i, p: (
        {"score_1": 9, "score_2": 2} if i["answer_1"].startswith("STRONG") else {"score_1": 2, "score_2": 9}
    )
    config = cc.parse_config(
        {
            "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
            "pipeline": {"metadata_pool_size": 2, "num_instructions": 3, "max_iterations": 1},
            "engine": {"cache": False},
        }
    )
    cc.generate(config, SEEDS, tmp_path / "run")
    rejected = [json.loads(line) for line in (tmp_path / "run" / "rejected.jsonl").read_text().splitlines()]
    duplicates = [r for r in rejected if r["reason"] == "duplicate"]
    assert [r["instruction"] for r in duplicates] == ["plan a weekend in rome for TWO people"]
    judged = {inputs["instruction"] for _role, inputs in script.steps("judge")}
    assert "plan a weekend in rome for TWO people" not in judged
    assert {
        "Write three checks for trip planning work",
        "Write three checks for recipe scaling work",
    } <= judged
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["counts"]["instructions"]["duplicates"] == 1
