"""A real generate run on the scripted LM whose items end every way the report shows.

Question 0 is kept with the strong answer, question 1 never separates the
answers and is dropped after the last round, and one decoded instruction
carries markup that must stay text in the page.
"""

import json
import os

import pytest
from typer.testing import CliRunner

from benchmarks.headless import find_chromium
from codeclm_dspy.cli import app

HOSTILE = "Explain </script><script>alert(1)</script> in one line"
CONFIG = """\
models:
  strong: {model: scripted/strong}
  target: {model: scripted/target}
  judge: {model: scripted/judge}
pipeline: {metadata_pool_size: 2, num_instructions: 3, max_iterations: 2, threshold: 1.0}
engine: {workers: 2, cache: false}
"""


def judge(role, inputs, params):
    """Scores by the instruction: question 0 and the hostile one favour the strong answer, others tie."""
    text = inputs["instruction"]
    strong_first = inputs["answer_1"] == "STRONG answer"
    if "Question 1" in text:
        strong, target = 5, 5
    elif "alert" in text:
        strong, target = 8, 2
    else:
        strong, target = 9, 3
    return {"score_1": strong, "score_2": target} if strong_first else {"score_1": target, "score_2": strong}


@pytest.fixture
def scripted_run(script, tmp_path):
    """Run ``codeclm generate`` through the CLI (so the report is written as users get it)."""
    script.handlers["decode"] = lambda role, i, p: {
        "new_instructions": [f"Question {n} about {i['use_case']}" for n in range(2)] + [HOSTILE]
    }
    script.handlers["judge"] = judge
    (tmp_path / "config.yaml").write_text(CONFIG)
    seeds = [{"id": f"s{k}", "instruction": f"How do I make dish {k}?"} for k in range(2)]
    (tmp_path / "seeds.jsonl").write_text("".join(json.dumps(s) + "\n" for s in seeds))
    out = tmp_path / "run"
    args = ["generate", "--config", str(tmp_path / "config.yaml"), "--seeds", str(tmp_path / "seeds.jsonl")]
    done = CliRunner().invoke(app, [*args, "--out", str(out), "-q"])
    assert done.exit_code == 0, done.output
    return out, done.output


@pytest.fixture
def chromium():
    """Skip without Chromium, except in CI (``CI=true``), where .ci/run installs it and a skip would
    hide a broken report."""
    if find_chromium() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is missing in CI; .ci/run installs Debian's chromium package")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
