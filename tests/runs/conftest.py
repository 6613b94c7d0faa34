"""A small finished run on the scripted provider, for tests that damage or rerun one."""

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app

SMALL_RUN = """\
models:
  strong: {model: scripted/strong}
  target: {model: scripted/target}
pipeline: {metadata_pool_size: 2, num_instructions: 2}
engine: {workers: 2, cache: false}
"""


@pytest.fixture
def finished_run(script, tmp_path):
    """A finished run's directory and the ``codeclm`` arguments that made it (and resume it)."""
    (tmp_path / "config.yaml").write_text(SMALL_RUN)
    (tmp_path / "seeds.jsonl").write_text('{"id": "s0", "instruction": "What is a roux?"}\n')
    out = tmp_path / "run"
    args = ["generate", "--config", str(tmp_path / "config.yaml"), "--seeds", str(tmp_path / "seeds.jsonl")]
    args += ["--out", str(out), "-q", "--no-report"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    return out, args
