"""``codeclm compile`` with bad optimizer params: exit 2 and one line, before any call is paid for."""

import pytest
import yaml
from typer.testing import CliRunner

import optimizers.compile as compile_module
from codeclm_dspy.cli import app
from tests.compile_helpers import bag_of_words, compile_config, learning_judge, write_seeds

RANDOM_SEARCH = "BootstrapFewShotWithRandomSearch"


@pytest.fixture
def compiling(script, monkeypatch):
    script.handlers["judge"] = learning_judge
    monkeypatch.setattr(compile_module, "_embedder", lambda name: bag_of_words)
    return script


@pytest.mark.parametrize(
    ("optimizer", "params", "says"),
    [
        ("MIPROv2", {"log_dir": "ELSEWHERE"}, "params.log_dir: cannot be set here"),  # files written anywhere
        (
            RANDOM_SEARCH,
            {"num_threads": 64},
            "params.num_threads: cannot be set here: set compile.num_threads",
        ),
        ("MIPROv2", {"num_candidates": 10**9}, "params.num_candidates: cannot be set here"),
        (
            RANDOM_SEARCH,
            {"max_bootstrapped_demos": -3},
            "params.max_bootstrapped_demos: Input should be greater",
        ),
        (
            RANDOM_SEARCH,
            {"num_candidate_programs": 10**9},
            "params.num_candidate_programs: Input should be less",
        ),
        ("COPRO", {"breadth": "3"}, "params.breadth: Input should be a valid integer"),
        ("COPRO", {"prompt_model": "openai/gpt-4o"}, "params.prompt_model: cannot be set here"),
        (RANDOM_SEARCH, {"teacher_settings": {"lm": None}}, "params.teacher_settings: cannot be set here"),
        (RANDOM_SEARCH, {"max_errors": 1}, "params.max_errors: cannot be set here"),
        ("COPRO", {"bredth": 2}, "params.bredth: COPRO has no parameter bredth; it takes: breadth, depth"),
    ],
)
def test_bad_params_stop_the_compile_before_any_call(compiling, tmp_path, optimizer, params, says):
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    params = {k: str(tmp_path / v) if k == "log_dir" else v for k, v in params.items()}
    config = compile_config({"judge": {"optimizer": optimizer, "params": params}})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    args = [
        "compile",
        "--config",
        str(tmp_path / "config.yaml"),
        "--seeds",
        seeds,
        "--out",
        str(tmp_path / "prog"),
    ]
    done = CliRunner().invoke(app, [*args, "-q"])
    assert done.exit_code == 2, done.output
    assert done.output.strip().count("\n") == 0 and "Traceback" not in done.output
    assert f"compile.steps.judge.{says}" in done.output
    # nothing was paid for and nothing written: not the program, not the log_dir
    assert compiling.calls == []
    assert not (tmp_path / "prog").exists() and not (tmp_path / "ELSEWHERE").exists()
