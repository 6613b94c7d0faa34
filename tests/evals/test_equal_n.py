"""Every method keeps num_instructions pairs (or says why not), and compare measures at equal N."""

import itertools
import json

import pytest

import codeclm_dspy as cc
from codeclm_dspy.pipeline.methods import apply_preset
from evals.compare import compare
from tests import scripted
from tests.evals.test_baselines import SEEDS, fresh_tasks, needs_rouge, script_baselines
from tests.evals.test_compare import BagOfWords

METHODS = ("codeclm", "self-rubrics", "metadata-only", "self-instruct", "evol-instruct", "wizardlm-plus")
QUOTA = 5


@pytest.fixture
def cooperative(script, monkeypatch):
    """Every step answers usefully; the strong model's answers always win clearly."""
    script_baselines(script, monkeypatch)
    numbers = itertools.count()

    def decode(role, inputs, params):
        if "examples" in inputs:  # Self-Instruct's brainstorm has the same output field
            return fresh_tasks(role, inputs, params)
        count = int(inputs["count"])
        return {
            "new_instructions": [
                f"Describe case {next(numbers)} of {inputs['use_case']} to a friend" for _ in range(count)
            ]
        }

    script.handlers["decode"] = decode
    script.handlers["respond"] = lambda role, i, p: f"The {role} model's full answer to: {i['instruction']}"
    script.handlers["judge"] = lambda role, i, p: {
        "score_1": 9 if i["answer_1"].startswith("The strong") else 3,
        "score_2": 9 if i["answer_2"].startswith("The strong") else 3,
    }
    return script


def generate(method, out, **pipeline):
    settings = {"metadata_pool_size": 3, "num_instructions": QUOTA, "max_iterations": 2, **pipeline}
    cfg = apply_preset(scripted.config(pipeline=settings), method)
    cc.generate(cfg, SEEDS[:4], out)
    return json.loads((out / "manifest.json").read_text())


@needs_rouge
def test_every_method_keeps_the_same_number_of_pairs(cooperative, tmp_path):
    for method in METHODS:
        manifest = generate(method, tmp_path / method)
        assert manifest["status"] == "complete", method
        assert manifest["accounting"]["balanced"], (method, manifest["accounting"])
        funnel = manifest["cost_funnel"]
        assert funnel["kept"] == manifest["kept"] == QUOTA and funnel["shortfall"] == 0, method


@needs_rouge
def test_a_shortfall_is_reported_and_compare_measures_at_equal_n(cooperative, tmp_path):
    full = generate("codeclm", tmp_path / "codeclm")
    # a target as good as the strong model: CodecLM keeps little, and says why
    cooperative.handlers["judge"] = lambda role, i, p: {"score_1": 6, "score_2": 6}
    cooperative.handlers["respond"] = lambda role, i, p: "Same answer"
    short = generate("codeclm", tmp_path / "short", max_overdraw=2.0)
    assert full["kept"] == QUOTA and short["kept"] == 0
    funnel = short["cost_funnel"]
    assert funnel["shortfall"] == QUOTA and "max_overdraw" in funnel["shortfall_reason"]
    assert funnel["not_kept_by_reason"]["within_threshold"] == 2 * QUOTA  # 2 x 5 filtered, none kept

    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text(
        "".join(
            json.dumps({"id": f"h{k}", "instruction": f"Describe case {k} to a friend"}) + "\n"
            for k in range(6)
        )
    )
    smaller = generate("metadata-only", tmp_path / "metadata-only", num_instructions=3)
    assert smaller["kept"] == 3
    result = compare([tmp_path / "codeclm", tmp_path / "metadata-only"], heldout, embedder=BagOfWords())
    # both measured on 3 rows; the full sizes are still shown
    assert result.settings["equal_n"]["n"] == 3
    assert [(r["kept"], r["measured"]) for r in result.rows] == [(QUOTA, 3), (3, 3)]
