"""Starting from user-written metadata (the paper's seedless entry), and WizardLM+."""

import itertools
import json

import pytest
from typer.testing import CliRunner

import codeclm_dspy as cc
from codeclm_dspy.cli import app
from codeclm_dspy.errors import ConfigError
from codeclm_dspy.pipeline.records import Seed
from tests import scripted


def read(path):
    return [json.loads(line) for line in path.open()]


def config(**sections):
    data = {
        "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
        "pipeline": {
            "metadata_pool_size": 2,
            "num_instructions": 4,
            "max_iterations": 2,
            "plausibility_check": False,
        },
        "engine": {"workers": 2, "cache": False},
    }
    data.update(sections)
    return cc.parse_config(data)


def sampling_decoder(script):
    numbers = itertools.count()
    script.handlers["decode"] = lambda r, i, p: {
        "new_instructions": [
            f"Question {next(numbers)} about {i['use_case']} and more" for _ in range(int(i["count"]))
        ]
    }


def test_metadata_file_skips_encoding(script, tmp_path):
    sampling_decoder(script)
    script.handlers["judge"] = lambda r, i, p: {
        "score_1": 9 if i["answer_1"] == "STRONG answer" else 2,
        "score_2": 9 if i["answer_2"] == "STRONG answer" else 2,
    }
    meta = tmp_path / "metadata.jsonl"
    meta.write_text(
        '{"id": "tax", "use_case": "tax questions", "skills": ["accounting", "law"]}\n'
        '{"id": "bad", "use_case": "3.14", "skills": ["math"]}\n'
        '{"id": "poem", "use_case": "poetry writing", "skills": "rhyme, meter"}\n'
    )
    cc.generate(config(), None, tmp_path / "run", metadata=meta)
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["accounting"]["balanced"], manifest["accounting"]
    assert not script.steps("encode")  # encoding skipped
    kept = read(run / "kept.jsonl")
    assert len(kept) == 4 and {r["use_case"] for r in kept} == {"tax questions", "poetry writing"}
    assert {tuple(r["seed_ids"]) for r in kept} == {("tax",), ("poem",)}
    bad = [r for r in read(run / "rejected.jsonl") if r["reason"] == "bad_metadata"]
    assert [r["id"] for r in bad] == ["given-bad"]
    assert manifest["counts"]["metadata"]["given"] == 2


def test_seeds_and_metadata_are_one_or_the_other(tmp_path):
    with pytest.raises(ConfigError, match="either seeds or metadata"):
        cc.generate(config(), None, tmp_path / "run")
    with pytest.raises(ConfigError, match="has no metadata"):
        cc.generate(config(method="self-instruct"), None, tmp_path / "run", metadata=[])


def test_a_metadata_file_without_skills_is_one_line(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("models: {strong: {model: scripted/strong}, target: {model: scripted/target}}\n")
    meta = tmp_path / "m.jsonl"
    meta.write_text('{"use_case": "tax questions"}\n')
    result = CliRunner().invoke(
        app, ["generate", "--config", str(cfg), "--metadata", str(meta), "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 2 and "needs 'use_case'" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()


def test_identical_metadata_is_merged_keeping_every_seed(script, tmp_path):
    # two seeds encode alike: one metadata with both seed ids, and its quota is not lost
    sampling_decoder(script)
    script.handlers["judge"] = lambda r, i, p: {
        "score_1": 9 if i["answer_1"] == "STRONG answer" else 2,
        "score_2": 9 if i["answer_2"] == "STRONG answer" else 2,
    }
    seeds = [Seed("a", "First seed"), Seed("b", "Second seed")]
    cc.generate(config(), seeds, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["counts"]["metadata"]["merged"] == 1 and manifest["accounting"]["balanced"]
    kept = read(tmp_path / "run" / "kept.jsonl")
    assert len(kept) == 4 and all(r["seed_ids"] == ["a", "b"] for r in kept)
    assert manifest["counts"]["instructions"]["duplicates"] == 0


def test_a_rubric_failure_keeps_the_decoded_instructions(script, tmp_path):
    sampling_decoder(script)
    script.handlers["rubrics"] = lambda r, i, p: "no rubrics today"
    script.handlers["judge"] = lambda r, i, p: {"score_1": 5, "score_2": 5}
    cc.generate(config(), [Seed("a", "First seed")], tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["accounting"]["balanced"] and manifest["counts"]["metadata"]["rubrics_failed"] >= 1
    rows = [r for r in read(tmp_path / "run" / "rejected.jsonl") if r["kind"] == "instruction"]
    judged = [r for r in rows if r["reason"] == "within_threshold"]
    # iteration 1 still ran for every instruction; the improvements were skipped, and the row says why
    assert judged and all(len(r["attempts"]) == 1 and r["rubrics_error"] for r in judged)
    assert not script.steps("improve")


def test_wizardlm_plus_evolves_codeclm_s_basic_instructions(script, tmp_path, monkeypatch):
    monkeypatch.setitem(scripted.STEP_BY_FIELDS, frozenset({"evolved_instruction"}), "evolve")
    monkeypatch.setitem(scripted.STEP_BY_FIELDS, frozenset({"equivalent"}), "equivalence")
    sampling_decoder(script)
    script.handlers["evolve"] = lambda r, i, p: {
        "evolved_instruction": i["instruction"] + " with three examples"
    }
    script.handlers["equivalence"] = lambda r, i, p: {"equivalent": False}
    cc.generate(config(method="wizardlm-plus"), [Seed("a", "First seed")], tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["method"] == "wizardlm-plus" and manifest["accounting"]["balanced"], manifest[
        "accounting"
    ]
    kept = read(tmp_path / "run" / "kept.jsonl")
    assert len(kept) == 4
    # each kept instruction is an evolution of a decoded basic instruction, not of the seed
    decoded = {i for _, inputs in script.steps("evolve") for i in [inputs["instruction"]]}
    assert all(r["instruction"].endswith("with three examples") for r in kept)
    assert all(text.startswith("Question ") for text in decoded)
    assert not script.steps("judge") and not script.steps("rubrics")
