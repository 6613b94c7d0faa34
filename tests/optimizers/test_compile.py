"""``codeclm compile`` end to end on the scripted provider: scores, program directory,
save/load round trip, generate with the compiled program, budget stop and resume."""

import json

import dspy
import pytest
import yaml
from typer.testing import CliRunner

import optimizers.compile as compile_module
from codeclm_dspy.cli import app
from codeclm_dspy.config import parse_config
from codeclm_dspy.errors import ConfigError, RunStopped
from optimizers import compile_program, load_program
from optimizers.students import step_predictor
from tests.compile_helpers import bag_of_words, compile_config, learning_judge, write_seeds

BOOTSTRAP = {
    "optimizer": "BootstrapFewShotWithRandomSearch",
    "params": {"num_candidate_programs": 2},
    "pass_mark": 1.0,
}


@pytest.fixture
def compiling(script, monkeypatch):
    script.handlers["judge"] = learning_judge
    monkeypatch.setattr(compile_module, "_embedder", lambda name: bag_of_words)
    return script


def test_compiled_judge_scores_higher_on_held_out_pairs(compiling, tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    manifest = compile_program(parse_config(compile_config({"judge": BOOTSTRAP})), seeds, tmp_path / "prog")
    judge = manifest["steps"]["judge"]
    assert manifest["status"] == "complete" and judge["kept"] == "compiled"
    # before: right on about half the pairs, position-biased on the rest; after: demos teach it
    assert judge["before"]["n"] == judge["after"]["n"] == 6 and judge["before"]["failed"] == 0
    assert judge["before"]["mean"] < 1.0 and judge["after"]["mean"] == 1.0
    assert judge["delta"] == pytest.approx(judge["after"]["mean"] - judge["before"]["mean"])
    assert judge["demos"] >= 1 and len(judge["after"]["items"]) == 6
    assert judge["after"]["parts"]["consistent"] == 1.0 and judge["before"]["parts"]["consistent"] < 1.0
    dev_ids = set(manifest["seeds"]["dev"])
    assert (
        not dev_ids & set(manifest["seeds"]["train"])
        and {i["id"] for i in judge["after"]["items"]} == dev_ids
    )
    # the demos came from training pairs only: no held-out instruction leaked into the prompt
    program, _ = load_program(tmp_path / "prog")
    dev_texts = {f"dish number {k} " for k in range(12) if f"s{k:02d}" in dev_ids}
    demo_text = json.dumps(
        [d.toDict() if hasattr(d, "toDict") else d for d in step_predictor(program, "judge").demos]
    )
    assert not any(t in demo_text for t in dev_texts)


def test_save_load_round_trip_and_generate_with_the_program(compiling, tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl", labels=True)
    steps = {"encode": {"optimizer": "LabeledFewShot", "params": {"k": 2}}, "judge": BOOTSTRAP}
    config = compile_config(steps)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = CliRunner().invoke(
        app,
        [
            "compile",
            "--config",
            str(tmp_path / "config.yaml"),
            "--seeds",
            seeds,
            "--out",
            str(tmp_path / "prog"),
            "-q",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "encode" in done.output and "LabeledFewShot" in done.output and "judge" in done.output

    program, manifest = load_program(tmp_path / "prog")
    saved = json.loads((tmp_path / "prog" / "program.json").read_text())
    saved.pop("metadata")  # DSPy's note of the versions that wrote it
    assert json.loads(json.dumps(program.dump_state())) == saved  # round trip: what was saved is what loads
    encode = step_predictor(program, "encode")
    assert len(encode.demos) == 2 and all(d["use_case"] == "cooking help" for d in encode.demos)
    assert manifest["models"]["strong"]["model"] == "scripted/strong" and manifest["packages"]["dspy"]
    assert "state" not in manifest["steps"]["encode"] and saved["encoder.encode"]["lm"] is None

    # a small run: the default quota (2,000 kept pairs) would decode thousands of instructions
    small = {**config, "pipeline": {"num_instructions": 4, "metadata_pool_size": 4, "max_iterations": 2}}
    (tmp_path / "generate.yaml").write_text(yaml.safe_dump(small))
    calls = len(compiling.calls)
    gen = CliRunner().invoke(
        app,
        [
            "generate",
            "--config",
            str(tmp_path / "generate.yaml"),
            "--seeds",
            seeds,
            "--out",
            str(tmp_path / "run"),
            "--program",
            str(tmp_path / "prog"),
            "-q",
        ],
    )
    assert gen.exit_code == 0, gen.output
    run_manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert run_manifest["program"]["compiled_from"] == str(tmp_path / "prog")
    assert run_manifest["program"]["steps"]["encode"]["optimizer"] == "LabeledFewShot"
    # the compiled encoder's demos reached the provider: encode requests now open with them
    encodes = [inputs for role, step, inputs in compiling.calls[calls:] if step == "encode"]
    assert encodes and all(i["_turns"] > 2 for i in encodes)


def test_budget_stop_then_resume_gives_the_uninterrupted_program(compiling, tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    whole = compile_program(parse_config(compile_config({"judge": BOOTSTRAP})), seeds, tmp_path / "whole")
    calls_whole = whole["usage"]["calls"]
    stopped = parse_config(compile_config({"judge": BOOTSTRAP}, budget={"max_calls": calls_whole // 2}))
    with pytest.raises(RunStopped):
        compile_program(stopped, seeds, tmp_path / "resumed")
    first = json.loads((tmp_path / "resumed" / "manifest.json").read_text())
    assert first["status"] == "stopped" and first["usage"]["calls"] == calls_whole // 2
    assert not (tmp_path / "resumed" / "program.json").exists()
    resumed = compile_program(parse_config(compile_config({"judge": BOOTSTRAP})), seeds, tmp_path / "resumed")
    assert resumed["status"] == "complete" and resumed["sessions"] == 2
    assert resumed["usage"]["calls"] == calls_whole  # nothing paid twice
    assert resumed["steps"]["judge"]["after"] == whole["steps"]["judge"]["after"]
    same = json.loads((tmp_path / "whole" / "program.json").read_text())["contrastive_filter.judge"]
    assert json.loads((tmp_path / "resumed" / "program.json").read_text())["contrastive_filter.judge"] == same


@pytest.mark.parametrize(
    ("steps", "seeds_kw", "message"),
    [
        ({}, {}, "names no step"),
        ({"judge": {"optimizer": "LabeledFewShot"}}, {}, "LabeledFewShot needs labelled examples"),
        ({"judge": BOOTSTRAP}, {"references": False}, "needs seeds with a 'reference' answer"),
        (
            {"judge": {"optimizer": "COPRO", "params": {"breadth": 1}}},
            {},
            "compile.steps.judge.params.breadth: Input should be greater than or equal to 2",
        ),
        ({"judge": {"optimizer": "MIPROv3"}}, {}, "compile.steps.judge.optimizer"),
        ({"judge": {"optimizer": "COPRO", "params": {"metric": "mine"}}}, {}, "cannot be set here"),
        ({"judge": {"optimizer": "COPRO", "params": {"bredth": 2}}}, {}, "COPRO has no parameter bredth"),
        ({"judge": {"optimizer": "MIPROv2"}}, {"n": 2}, "needs at least two training seeds"),
    ],
)
def test_bad_compile_input_is_one_line_and_exit_2(compiling, tmp_path, steps, seeds_kw, message):
    seeds = write_seeds(tmp_path / "seeds.jsonl", **seeds_kw)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(compile_config(steps)))
    done = CliRunner().invoke(
        app,
        [
            "compile",
            "--config",
            str(tmp_path / "config.yaml"),
            "--seeds",
            seeds,
            "--out",
            str(tmp_path / "prog"),
            "-q",
        ],
    )
    assert done.exit_code == 2, done.output
    assert message in done.output and "Traceback" not in done.output
    assert not (tmp_path / "prog" / "program.json").exists()


def test_copro_gets_as_many_proposals_as_its_breadth_asks(compiling, tmp_path):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    steps = {"judge": {"optimizer": "COPRO", "params": {"breadth": 4, "depth": 1}}}
    compile_program(parse_config(compile_config(steps)), seeds, tmp_path / "prog")
    proposals = [inputs for role, step, inputs in compiling.calls if step == "optimizer"]
    # the first round asks for breadth - 1 completions of one prompt: one request per completion
    first = [p for p in proposals if p == proposals[0]]
    assert len(first) == 3


def test_an_optimizer_that_gives_up_is_one_line_with_its_log(compiling, tmp_path, monkeypatch):
    seeds = write_seeds(tmp_path / "seeds.jsonl")

    def gives_up(self, student, **kwargs):
        raise ValueError("not enough candidates for these settings")

    # bad params no longer get this far (they fail when the config is read); DSPy can still give up
    monkeypatch.setattr(dspy.MIPROv2, "compile", gives_up)
    steps = {"judge": {"optimizer": "MIPROv2"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(compile_config(steps)))
    done = CliRunner().invoke(
        app,
        [
            "compile",
            "--config",
            str(tmp_path / "config.yaml"),
            "--seeds",
            seeds,
            "--out",
            str(tmp_path / "prog"),
            "-q",
        ],
    )
    assert done.exit_code == 1, done.output
    assert "MIPROv2 failed compiling judge" in done.output and "Traceback" not in done.output
    assert "Traceback" in (tmp_path / "prog" / "optimizer-logs" / "judge.log").read_text()
    manifest = json.loads((tmp_path / "prog" / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "MIPROv2 failed" in manifest["error"]


def test_generate_refuses_an_unfinished_program(tmp_path):
    (tmp_path / "prog").mkdir()
    (tmp_path / "prog" / "manifest.json").write_text('{"status": "stopped"}')
    (tmp_path / "prog" / "program.json").write_text("{}")
    with pytest.raises(ConfigError, match="did not complete"):
        load_program(tmp_path / "prog")
    with pytest.raises(ConfigError, match="not a compiled program directory"):
        load_program(tmp_path / "nothing")
