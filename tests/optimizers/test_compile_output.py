"""A compile that cannot write its program directory stops with one line; it never says "complete".

A full disk (or a directory that lost its write permission) while saving
program.json ended `codeclm compile` in a traceback: DSPy wraps the OSError in
a RuntimeError, exit 1, and the manifest said "failed" as for a bug; a step's
optimizer log that could not be written did the same with the OSError itself.
Now: exit 4 and one line naming the file and the reason, a manifest that says
"stopped", and the same command with room again finishes the compile from
the journal without paying for a call twice.
"""

import builtins
import errno
import json
import os
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import optimizers.compile as compile_module
from codeclm_dspy.cli import app
from codeclm_dspy.errors import ConfigError
from optimizers import load_program
from tests.compile_helpers import bag_of_words, compile_config, learning_judge, write_seeds

BOOTSTRAP = {
    "optimizer": "BootstrapFewShotWithRandomSearch",
    "params": {"num_candidate_programs": 2},
    "pass_mark": 1.0,
}
NO_SPACE = os.strerror(errno.ENOSPC)


@pytest.fixture
def compiling(script, monkeypatch, tmp_path):
    """The scripted judge, and the arguments of a compile of it into ``tmp_path/prog``."""
    script.handlers["judge"] = learning_judge
    monkeypatch.setattr(compile_module, "_embedder", lambda name: bag_of_words)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(compile_config({"judge": BOOTSTRAP})))
    seeds = write_seeds(tmp_path / "seeds.jsonl")
    out = tmp_path / "prog"
    args = ["compile", "--config", str(tmp_path / "config.yaml"), "--seeds", seeds, "--out", str(out)]
    return script, out, [*args, "-q", "--no-report"]


def full_disk_for(name: str):
    """``open`` that fails to create ``name`` or its temp file (``.name.<pid>.tmp``), as a full disk does."""
    real_open = builtins.open

    def opening(file, mode="r", *args, **kwargs):
        if (
            isinstance(file, str | os.PathLike)
            and Path(file).name.lstrip(".").startswith(name)
            and set(mode) & set("wax+")
        ):
            raise OSError(errno.ENOSPC, NO_SPACE, str(file))
        return real_open(file, mode, *args, **kwargs)

    return opening


def stopped_with_one_line(args, monkeypatch, name: str) -> str:
    with monkeypatch.context() as full:
        full.setattr(builtins, "open", full_disk_for(name))
        done = CliRunner().invoke(app, args)
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert done.exit_code == 4 and done.exc_info[0] is SystemExit, done.output
    assert len(lines) == 1 and "Traceback" not in done.output, done.output
    return lines[0]


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("name", ["program.json", "judge.log"])
def test_a_compile_that_cannot_write_a_file_stops_and_resumes(compiling, monkeypatch, name):
    script, out, args = compiling
    line = stopped_with_one_line(args, monkeypatch, name)
    where = out / "program.json" if name == "program.json" else out / "optimizer-logs" / "judge.log"
    assert line.startswith(f"codeclm: error: cannot write {where} ({NO_SPACE})"), line
    assert "run the same command again" in line
    stopped = manifest(out)
    assert stopped["status"] == "stopped" and NO_SPACE in stopped["error"]
    assert not (out / "program.json").exists() and not list(out.glob("*program.json*tmp"))
    with pytest.raises(ConfigError):  # generate --program refuses it
        load_program(out)

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    resumed = manifest(out)
    assert resumed["status"] == "complete" and resumed["sessions"] == 2
    if name == "program.json":  # the step had finished: saving was all that was left
        assert resumed["this_session"]["provider_calls"] == 0
        assert resumed["steps"]["judge"] == stopped["steps"]["judge"]
    # what the stopped session paid for came from the journal: both sessions together asked
    # the provider what one uninterrupted compile asks, and got the same compiled judge
    paid = len(script.calls)
    whole = CliRunner().invoke(app, [a if a != str(out) else str(out.parent / "whole") for a in args])
    assert whole.exit_code == 0, whole.output
    assert len(script.calls) - paid == paid
    assert resumed["steps"]["judge"]["after"] == manifest(out.parent / "whole")["steps"]["judge"]["after"]
    program, _ = load_program(out)
    assert program.contrastive_filter.judge.demos  # the compiled judge, not the default prompts


def test_a_finished_compile_run_again_on_a_full_disk_keeps_its_program_but_not_complete(
    compiling, monkeypatch
):
    script, out, args = compiling
    assert CliRunner().invoke(app, args).exit_code == 0
    saved, paid = (out / "program.json").read_bytes(), len(script.calls)

    line = stopped_with_one_line(args, monkeypatch, "program.json")
    assert f"cannot write {out / 'program.json'} ({NO_SPACE})" in line
    rerun = manifest(out)
    assert rerun["status"] == "stopped" and rerun["sessions"] == 2  # not the first session's "complete"
    assert (out / "program.json").read_bytes() == saved  # never half written over
    with pytest.raises(ConfigError, match="did not complete"):
        load_program(out)

    assert CliRunner().invoke(app, args).exit_code == 0
    assert manifest(out)["status"] == "complete"
    assert json.loads((out / "program.json").read_bytes()) == json.loads(saved)  # the same program
    assert len(script.calls) == paid  # every step was in the journal: neither rerun paid for a call


def test_an_optimizer_whose_printing_meets_a_full_disk_stops_the_compile(compiling, monkeypatch):
    # the optimizer prints its trials into the step's log; ENOSPC there reached us as the
    # optimizer's own failure (exit 1, "failed compiling"), not as a stop the same command resumes
    _, out, args = compiling
    real_run = compile_module.registry.run

    def printing_on_a_full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, NO_SPACE)

    with monkeypatch.context() as full:
        full.setattr(compile_module.registry, "run", printing_on_a_full_disk)
        done = CliRunner().invoke(app, args)
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert done.exit_code == 4 and len(lines) == 1, done.output
    assert lines[0].startswith(
        f"codeclm: error: cannot write {out / 'optimizer-logs' / 'judge.log'} ({NO_SPACE})"
    )
    assert manifest(out)["status"] == "stopped"

    assert compile_module.registry.run is real_run
    assert CliRunner().invoke(app, args).exit_code == 0
    assert manifest(out)["status"] == "complete"
