"""The paper's Table 3 ablations run through the same engine and run directory."""

import json

import datasets
import pytest

import codeclm_dspy as cc
from codeclm_dspy.errors import ConfigError
from codeclm_dspy.pipeline.methods import apply_preset, method_name
from codeclm_dspy.pipeline.records import Seed

SEEDS = [Seed(f"s{i}", f"Seed instruction number {i}") for i in range(2)]


def config(preset: str):
    base = cc.parse_config(
        {
            "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
            "pipeline": {"metadata_pool_size": 2, "num_instructions": 4, "max_iterations": 3},
            "engine": {"workers": 2, "cache": False},
        }
    )
    return apply_preset(base, preset)


@pytest.fixture(autouse=True)
def distinct_topics(script):
    """One use case per seed, so decoded instructions never repeat."""
    script.handlers["encode"] = lambda r, i, p: {
        "use_case": f"topic {i['instruction'][-1]}",
        "skills": ["writing"],
    }


def read(path):
    return [json.loads(line) for line in path.open()]


def test_metadata_only_keeps_every_basic_instruction_with_the_strong_answer(script, tmp_path):
    cfg = config("metadata-only")
    cc.generate(cfg, SEEDS, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    kept = read(tmp_path / "run" / "kept.jsonl")
    assert manifest["method"] == "metadata-only" and manifest["accounting"]["balanced"]
    assert len(kept) == 4 and {r["source"] for r in kept} == {"strong"}
    assert all(r["instruction"] == r["basic_instruction"] and r["actions"] == [] for r in kept)
    assert all(r["response"] == "STRONG answer" and r["judge_scores"] is None for r in kept)
    steps = {step for _, step, _ in script.calls}
    assert steps <= {"encode", "check_metadata", "decode", "respond"}  # no rubrics, improve, judge
    assert {role for role, step, _ in script.calls if step == "respond"} == {"strong"}


def test_self_rubrics_without_filtering_applies_every_improvement(script, tmp_path):
    cc.generate(config("self-rubrics"), SEEDS, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    kept = read(tmp_path / "run" / "kept.jsonl")
    assert manifest["method"] == "self-rubrics" and manifest["accounting"]["balanced"]
    assert len(kept) == 4
    for row in kept:  # T = 3: the basic instruction plus two improvements
        assert row["iteration"] == 3 and len(row["actions"]) == 2
        assert row["instruction"] == row["basic_instruction"] + " (harder) (harder)"
    assert not script.steps("judge") and len(script.steps("improve")) == 8
    assert all(it["judged"] == 0 for it in manifest["counts"]["iterations"])


def test_an_empty_strong_answer_is_rejected_not_kept(script, tmp_path):
    script.handlers["respond"] = lambda role, i, p: ""
    cfg = config("metadata-only")
    cfg.engine.parse_retries = 1
    cfg.pipeline.max_overdraw = 1.0  # answer no more instructions than pairs asked for
    cc.generate(cfg, SEEDS, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    rejected = [r for r in read(tmp_path / "run" / "rejected.jsonl") if r["kind"] == "instruction"]
    assert manifest["kept"] == 0 and manifest["accounting"]["balanced"]
    assert len(rejected) == 4 and {r["reason"] for r in rejected} == {"empty_response"}
    # the shortfall is reported with its reason, never hidden
    funnel = manifest["cost_funnel"]
    assert funnel["shortfall"] == 4 and "max_overdraw" in funnel["shortfall_reason"]
    assert funnel["not_kept_by_reason"] == {"empty_response": 4}
    # a run that keeps nothing still writes a dataset that loads (datasets writes no shard for 0 rows)
    empty = datasets.load_from_disk(str(tmp_path / "run" / "dataset"))
    assert len(empty) == 0 and "messages" in empty.features


def test_full_codeclm_is_the_default_and_presets_are_validated():
    cfg = config("codeclm")
    assert method_name(cfg) == "codeclm" and cfg.pipeline.contrastive_filtering
    with pytest.raises(ConfigError, match="unknown method 'wizardlm'"):
        apply_preset(cfg, "wizardlm")
