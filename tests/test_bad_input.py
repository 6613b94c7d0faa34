"""Every bad input: one clear message, a non-zero exit, no traceback, no
run directory that looks complete."""

import json
import socket

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app

GOOD = """\
models:
  strong: {model: embedded/smollm2-135m-instruct}
  target: {model: embedded/gemma3-270m}
pipeline: {metadata_pool_size: 2, num_instructions: 2}
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "seeds.jsonl").write_text('{"instruction": "Say hi."}\n')
    (tmp_path / "config.yaml").write_text(GOOD)
    return tmp_path


def run(files, *args, env=None, exit_code=None):
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--config",
            str(files / "config.yaml"),
            "--seeds",
            str(files / "seeds.jsonl"),
            "--out",
            str(files / "out"),
            "-q",
            *args,
        ],
        env=env,
    )
    output = result.output  # stdout and stderr together
    assert result.exit_code != 0 and exit_code in (None, result.exit_code), output
    assert "Traceback" not in output and result.exc_info[0] is SystemExit, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("codeclm: error:"), output
    assert not (files / "out" / "manifest.json").exists()
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_seeds_file(files):
    (files / "seeds.jsonl").unlink()
    assert "seeds file not found" in run(files)


def test_empty_seeds_file(files):
    (files / "seeds.jsonl").write_text("\n")
    assert "holds no seed instructions" in run(files)


def test_malformed_jsonl_line_is_named(files):
    (files / "seeds.jsonl").write_text('{"instruction": "ok"}\n{"instruction": oops}\n')
    assert "seeds.jsonl line 2, column 17: not valid JSON" in run(files)


def test_missing_instruction_field(files):
    (files / "seeds.jsonl").write_text('{"prompt": "Say hi."}\n')
    message = run(files)
    assert "line 1" in message and "'instruction'" in message and "prompt" in message


def test_unknown_config_key(files):
    (files / "config.yaml").write_text(GOOD + "pipline: {threshold: 2}\n")
    assert "pipline: unknown key" in run(files)


@pytest.mark.parametrize("theta", [9, 12, -1])
def test_threshold_outside_the_scale(files, theta):
    (files / "config.yaml").write_text(
        GOOD.replace("num_instructions: 2}", f"num_instructions: 2, threshold: {theta}}}")
    )
    assert "pipeline.threshold: threshold must be in [0, 9)" in run(files)


@pytest.mark.parametrize("where", ["config", "flag"])
@pytest.mark.parametrize("seed", [-1, 2**32])
def test_random_seed_outside_what_numpy_takes(files, where, seed):
    if where == "config":
        (files / "config.yaml").write_text(GOOD + f"random_seed: {seed}\n")
    args = ["--random-seed", str(seed)] if where == "flag" else []
    assert "random_seed: Input should be" in run(files, *args, exit_code=2)


def test_unknown_provider(files):
    (files / "config.yaml").write_text(GOOD.replace("embedded/gemma3-270m", "nosuchprovider/some-model"))
    assert "unknown provider in model 'nosuchprovider/some-model'" in run(files)


def test_unknown_embedded_model(files):
    (files / "config.yaml").write_text(GOOD.replace("embedded/gemma3-270m", "embedded/gpt-9"))
    assert "unknown embedded model 'gpt-9'" in run(files)


def test_unreachable_api_base(files):
    port = free_port()
    (files / "config.yaml").write_text(
        GOOD.replace(
            "{model: embedded/gemma3-270m}",
            f"{{model: openai/served, api_base: 'http://127.0.0.1:{port}/v1'}}",
        )
    )
    assert f"cannot reach api_base http://127.0.0.1:{port}/v1" in run(files)


def test_missing_api_key(files, monkeypatch):
    monkeypatch.delenv("MY_OPENAI_KEY", raising=False)
    (files / "config.yaml").write_text(
        GOOD.replace(
            "{model: embedded/gemma3-270m}", "{model: openai/gpt-4o-mini, api_key_env: MY_OPENAI_KEY}"
        )
    )
    assert "MY_OPENAI_KEY (api_key_env) is not set" in run(files)


def test_provider_default_key_missing(files, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    (files / "config.yaml").write_text(
        GOOD.replace("embedded/gemma3-270m", "anthropic/claude-3-5-haiku-latest")
    )
    assert "ANTHROPIC_API_KEY" in run(files)


def test_key_pasted_instead_of_variable_name(files):
    (files / "config.yaml").write_text(
        GOOD.replace(
            "{model: embedded/gemma3-270m}", "{model: openai/gpt-4o-mini, api_key_env: 'sk-abc123-xyz'}"
        )
    )
    message = run(files)
    assert "NAME of an environment variable" in message and "sk-abc123" not in message


def test_missing_config_file(files):
    (files / "config.yaml").unlink()
    assert "config file not found" in run(files)


def test_existing_output_directory_is_never_overwritten(files):
    (files / "out").mkdir()
    (files / "out" / "kept.jsonl").write_text('{"precious": true}\n')
    assert "is not a codeclm run directory" in run(files)
    assert json.loads((files / "out" / "kept.jsonl").read_text()) == {"precious": True}
