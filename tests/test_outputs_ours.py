"""Issue 13, outputs: our own directories stay usable (a run resumes, marked or
written before markers existed), nothing half-written claims completion, and
a library's log handler never prints ``--- Logging error ---``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from tests.evals.test_compare import BagOfWords, heldout, make_run  # noqa: F401
from tests.test_outputs_paths import CONFIG, refused, snapshot

ROOT = Path(__file__).resolve().parents[1]


def generate(tmp_path: Path, out: Path):
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "seeds.jsonl").write_text('{"id": "s0", "instruction": "Say hi."}\n')
    args = ["generate", "--config", str(tmp_path / "config.yaml"), "--seeds", str(tmp_path / "seeds.jsonl")]
    return CliRunner().invoke(app, [*args, "--out", str(out), "-q"])


def test_a_run_resumes_whether_marked_or_written_before_markers(script, tmp_path):
    out = tmp_path / "run"
    assert generate(tmp_path, out).exit_code == 0
    assert json.loads((out / ".codeclm").read_text()) == {"codeclm": "run"}
    again = generate(tmp_path, out)
    assert again.exit_code == 0, again.output
    assert json.loads((out / "manifest.json").read_text())["sessions"] == 2
    (out / ".codeclm").unlink()  # as a run written before markers: its state.sqlite says it is ours
    legacy = generate(tmp_path, out)
    assert legacy.exit_code == 0, legacy.output
    assert json.loads((out / "manifest.json").read_text())["sessions"] == 3
    assert json.loads((out / ".codeclm").read_text()) == {"codeclm": "run"}


def test_an_empty_directory_and_a_link_to_one_are_fine(script, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty", target_is_directory=True)
    done = generate(tmp_path, tmp_path / "link")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "empty" / "manifest.json").is_file() and (tmp_path / "empty" / ".codeclm").is_file()


@pytest.fixture
def two_runs(tmp_path, monkeypatch):
    monkeypatch.setattr("evals.embeddings.Embedder", lambda name: BagOfWords())
    return [str(make_run(tmp_path, name, [f"{name} question {k}" for k in range(3)])) for name in ("a", "b")]


def test_a_comparison_that_fails_halfway_claims_nothing(tmp_path, heldout, two_runs, monkeypatch):  # noqa: F811
    base = ["eval", "compare", *two_runs, "--against", str(heldout), "--out"]
    assert CliRunner().invoke(app, [*base, str(tmp_path / "done")]).exit_code == 0
    before = snapshot(tmp_path / "done")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("evals.report.chart", disk_full)
    for out in ("done", "fresh"):  # an earlier complete comparison, and a new directory
        failed = CliRunner().invoke(app, [*base, str(tmp_path / out)])
        assert failed.exit_code != 0 and "No space left on device" in failed.output, failed.output
        assert "Traceback" not in failed.output
    assert snapshot(tmp_path / "done") == before  # the earlier comparison, whole, no staging left
    assert not (tmp_path / "fresh" / "comparison.json").exists()
    assert sorted(os.listdir(tmp_path / "fresh")) == [".codeclm"]


def test_a_split_that_fails_halfway_leaves_no_file(tmp_path, heldout):  # noqa: F811
    out = tmp_path / "split"
    out.mkdir()
    (out / ".codeclm").write_text('{"codeclm": "split"}')
    (out / "seeds.jsonl.tmp").mkdir()  # the seeds file cannot be written
    line = refused(["eval", "split", "--benchmark", str(heldout), "--out", str(out)])
    assert "cannot write to" in line and str(out) in line
    assert sorted(os.listdir(out)) == [".codeclm", "seeds.jsonl.tmp"]


def test_remove_contaminated_writes_only_into_run_directories(tmp_path, heldout, two_runs):  # noqa: F811
    before = snapshot(tmp_path / "a")
    line = refused(
        [
            "eval",
            "compare",
            *two_runs,
            "--against",
            str(heldout),
            "--remove-contaminated",
            "--out",
            str(tmp_path / "c"),
        ]
    )
    assert f"run directory {two_runs[0]} is not a codeclm run directory" in line, line
    assert snapshot(tmp_path / "a") == before and not (tmp_path / "c").exists()


LATE_LOG = """
import sys
from typer.testing import CliRunner
from codeclm_dspy.cli import app

result = CliRunner().invoke(app, ["sweep", "best", "--storage", sys.argv[1], "--study", "nope", "--out", sys.argv[2]])
print(result.output, end="")
import optuna  # first imported inside the command above, its handler made on the runner's stderr

optuna.logging.get_logger("optuna.late").error("logged after the command")
"""


def test_a_library_logging_after_the_command_never_prints_a_logging_error(tmp_path):
    import optuna

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.storages.RDBStorage(storage)  # an Optuna database with no study in it
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CODECLM_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", LATE_LOG, storage, str(tmp_path / "best.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "no study named 'nope'" in done.stdout, done.stdout + done.stderr
    assert "Logging error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "logged after the command" in done.stderr
