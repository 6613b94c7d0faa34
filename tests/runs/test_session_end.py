"""A session that cannot save never leaves a manifest that says "complete".

Run again on a finished run, a full disk while saving used to end with a
traceback (exit 1) and leave manifest.json saying "complete" from the
session before. Now: exit 4 with one line, the manifest says "stopped" or,
when it cannot be written either, is gone; and the same command with room
again finishes the same dataset. (A full journal on the same rerun, through
a real size limit: tests/runs/test_resume.py.)
"""

import errno
import json
import os

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from codeclm_dspy.errors import OutputWriteFailed


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def invoke(args):
    done = CliRunner().invoke(app, args)
    assert done.exc_info[0] is SystemExit and "Traceback" not in done.output, done.output
    return done


@pytest.fixture
def finished(finished_run):
    """A finished run, the arguments that made it, and its kept and rejected rows."""
    out, args = finished_run
    return out, args, {name: (out / name).read_text() for name in ("kept.jsonl", "rejected.jsonl")}


def manifest(out):
    path = out / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def one_line(done) -> str:
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert done.exit_code == 4 and len(lines) == 1 and lines[0].startswith("codeclm: error: "), done.output
    assert "run the same command again" in lines[0]
    return lines[0]


@pytest.mark.parametrize("where", ["dataset", "every file"])
def test_a_rerun_that_cannot_save_is_stopped_not_complete(finished, monkeypatch, where):
    out, args, rows = finished
    if where == "dataset":  # the dataset cannot be saved; the manifest can
        monkeypatch.setattr("codeclm_dspy.runs.run_dir.write_dataset", full_disk)
    else:  # no file can be written: kept.jsonl, rejected.jsonl, the dataset, the manifest
        monkeypatch.setattr(os, "fsync", full_disk)
        monkeypatch.setattr("codeclm_dspy.runs.run_dir.write_dataset", full_disk)

    line = one_line(invoke(args))
    assert "No space left on device" in line
    stopped = manifest(out)
    if where == "dataset":
        assert stopped["status"] == "stopped" and stopped["sessions"] == 2
        assert "No space left on device" in stopped["error"]
    else:  # the earlier session's manifest cannot stand for this one
        assert stopped is None and "manifest.json" in line
    status = invoke(["status", str(out)])
    assert status.exit_code == 0 and "complete" not in status.output

    monkeypatch.undo()  # room again: the same command finishes the same dataset
    assert invoke(args).exit_code == 0
    assert manifest(out)["status"] == "complete" and manifest(out)["accounting"]["balanced"]
    assert {name: (out / name).read_text() for name in rows} == rows


def test_an_evaluation_rerun_that_cannot_save_is_stopped_not_complete(script, tmp_path, monkeypatch):
    # a CRR writes its verdicts itself, through the state, not through the run directory's saves
    from evals.crr_runner import run_crr
    from tests.evals.test_crr_run import benchmark, config, evaluate

    script.handlers["evaluate"] = evaluate
    out = tmp_path / "eval"
    run_crr(config(), benchmark(tmp_path), out)
    assert manifest(out)["status"] == "complete"
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OutputWriteFailed, match="No space left on device") as stop:
        run_crr(config(), benchmark(tmp_path), out)
    assert stop.value.exit_code == 4 and "manifest.json" in str(stop.value)
    assert manifest(out) is None  # not the earlier session's "complete"
