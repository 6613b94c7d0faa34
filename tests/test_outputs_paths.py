"""Issue 13, outputs: every path a command writes is checked before work starts,
and a directory that is not ours is never written into, by any command.

Each case is the minimal input a fuzz of the CLI found crashing (a raw
OSError or sqlite3 error) or passing for success (a user's folder written
into); each must now be one line naming the path, exit 2, no traceback, and
the user's files exactly as they were.
"""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app

CONFIG = """\
models:
  strong: {model: scripted/strong}
  target: {model: scripted/target}
  judge: {model: scripted/judge}
pipeline: {metadata_pool_size: 2, num_instructions: 2}
engine: {workers: 2, cache: false}
"""
SPACE = "params:\n  pipeline.threshold: {low: 0.5, high: 3.0, step: 0.5}\n"


@pytest.fixture
def inputs(tmp_path, script):
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "seeds.jsonl").write_text('{"id": "s0", "instruction": "Say hi."}\n')
    (tmp_path / "bench.jsonl").write_text('{"id": "b0", "instruction": "Say bye."}\n')
    (tmp_path / "space.yaml").write_text(SPACE)
    run = tmp_path / "a-run"
    run.mkdir()
    (run / "kept.jsonl").write_text('{"id": "k", "instruction": "Say hi."}\n')
    (run / "manifest.json").write_text('{"status": "complete"}')
    return tmp_path


def command(name: str, files: Path, out: str) -> list[str]:
    names = {"config": "config.yaml", "seeds": "seeds.jsonl", "bench": "bench.jsonl", "space": "space.yaml"}
    f = {key: str(files / name) for key, name in {**names, "run": "a-run"}.items()}
    return {
        "generate": ["generate", "--config", f["config"], "--seeds", f["seeds"], "--out", out, "-q"],
        "eval split": ["eval", "split", "--benchmark", f["bench"], "--out", out],
        "eval compare": ["eval", "compare", f["run"], "--against", f["bench"], "--out", out],
        "eval crr": ["eval", "crr", "--config", f["config"], "--benchmark", f["bench"], "--out", out, "-q"],
        "compile": ["compile", "--config", f["config"], "--seeds", f["seeds"], "--out", out, "-q"],
        "sweep": [
            *["sweep", "--config", f["config"], "--space", f["space"], "--seeds", f["seeds"]],
            *["--heldout", f["bench"], "--out", out],
        ],
    }[name]


COMMANDS = ["generate", "eval split", "eval compare", "eval crr", "compile", "sweep"]


def refused(args: list[str]) -> str:
    """Invoke the CLI; assert one error line, exit 2, no traceback; return the line."""
    result = CliRunner().invoke(app, args)
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output and result.exc_info[0] is SystemExit, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("codeclm: error:"), output
    return lines[0]


def snapshot(root: Path) -> dict[str, object]:
    """Every file and directory under ``root`` with its bytes (links not followed)."""
    found: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            found[os.path.relpath(os.path.join(dirpath, name), root)] = "<dir>"
        for name in filenames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, root)] = (
                f"-> {os.readlink(path)}" if os.path.islink(path) else Path(path).read_bytes()
            )
    return found


def users_folder(root: Path) -> Path:
    folder = root / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes\n")
    return folder


# each: (setup(tmp) -> the --out to give, a phrase the message must hold)
FOREIGN = {
    "a user's notes": (lambda t: users_folder(t), "holds notes.txt"),
    "a link to a user's folder": (
        lambda t: (t / "link").symlink_to(users_folder(t), target_is_directory=True) or t / "link",
        "holds notes.txt",
    ),
    "a hand-made complete manifest": (
        lambda t: _folder(t, {"manifest.json": '{"status": "complete"}'}),
        "is not a codeclm",
    ),
    "an empty state.sqlite beside a thesis": (
        lambda t: _folder(t, {"state.sqlite": "", "mythesis.tex": "\\section{Intro}"}),
        "holds mythesis.tex",
    ),
    "a junk state.sqlite": (lambda t: _folder(t, {"state.sqlite": "not a database"}), "is not a codeclm"),
    "a directory named state.sqlite": (
        lambda t: _folder(t, {"state.sqlite/keep.txt": "x"}),
        "is not a codeclm",
    ),
}


def _folder(root: Path, files: dict[str, str]) -> Path:
    folder = root / "mine"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize("case", list(FOREIGN))
@pytest.mark.parametrize("name", COMMANDS)
def test_a_folder_that_is_not_ours_is_never_written_into(inputs, tmp_path, name, case):
    make, phrase = FOREIGN[case]
    out = make(tmp_path)
    before = snapshot(tmp_path / "mine")
    line = refused(command(name, inputs, str(out)))
    assert str(out) in line and phrase in line and "choose a new" in line, line
    assert snapshot(tmp_path / "mine") == before


BAD_PATHS = {
    "an existing file": (lambda t: _file(t / "afile"), "it is a file, not a directory"),
    "a path under a file": (lambda t: _file(t / "afile") / "sub", "afile is a file, not a directory"),
    "a 300-character name": (lambda t: t / ("n" * 300), "is 300 bytes long"),
    "a newline": (lambda t: f"{t}/a\nb", "holds a control character"),
}


def _file(path: Path) -> Path:
    path.write_text("precious\n")
    return path


@pytest.mark.parametrize("case", list(BAD_PATHS))
@pytest.mark.parametrize("name", COMMANDS)
def test_an_unusable_out_path_is_one_line_before_any_work(inputs, tmp_path, name, case):
    make, phrase = BAD_PATHS[case]
    out = make(tmp_path)
    before = snapshot(tmp_path)
    line = refused(command(name, inputs, str(out)))
    assert "--out" in line and phrase in line, line
    assert "\n" not in line and "\0" not in line
    assert snapshot(tmp_path) == before  # nothing created, not even the out directory


@pytest.mark.parametrize("name", ["eval crr", "compile", "eval split"])
def test_a_codeclm_directory_of_another_kind_is_refused(inputs, tmp_path, name):
    run = tmp_path / "run"
    run.mkdir()
    (run / ".codeclm").write_text('{"codeclm": "run"}')
    line = refused(command(name, inputs, str(run)))
    assert "is a codeclm run directory, not a" in line, line


CACHE_DIRS = {
    "a file": (lambda t: _file(t / "afile"), "it is a file, not a directory"),
    "a path under a file": (lambda t: _file(t / "afile") / "cache", "afile is a file, not a directory"),
    "a NUL byte": (lambda t: f"{t}/ca\0che", "holds a control character (U+0000)"),
    "a user's folder": (lambda t: users_folder(t), "holds notes.txt"),
    "a junk requests.sqlite": (lambda t: _folder(t, {"requests.sqlite": "junk"}), "is not a codeclm"),
}


@pytest.mark.parametrize("case", list(CACHE_DIRS))
@pytest.mark.parametrize("name", ["generate", "eval crr", "compile"])
def test_an_unusable_cache_dir_is_one_line_naming_it(inputs, tmp_path, name, case):
    make, phrase = CACHE_DIRS[case]
    cache = make(tmp_path)
    config = CONFIG.replace("cache: false", f"cache: true, cache_dir: {json.dumps(str(cache))}")
    (inputs / "config.yaml").write_text(config)
    before = snapshot(tmp_path)
    line = refused(command(name, inputs, str(tmp_path / "new-out")))
    assert "engine.cache_dir" in line and phrase in line, line
    assert snapshot(tmp_path) == before


def test_the_request_cache_opened_by_the_library_is_checked_too(tmp_path):
    from codeclm_dspy.engine.cache import RequestCache
    from codeclm_dspy.errors import RunDirError

    (tmp_path / "requests.sqlite").write_text("not a database")
    with pytest.raises(RunDirError, match=r"requests\.sqlite is not a SQLite database"):
        RequestCache(tmp_path / "requests.sqlite")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="file: it is a file, not a directory"):
        RequestCache(tmp_path / "file" / "requests.sqlite")


def test_what_a_killed_write_leaves_behind_never_makes_a_directory_foreign(script, tmp_path):
    # SIGKILL during the final save left .dataset-build-*, and the same command was then refused
    import codeclm_dspy as cc
    from codeclm_dspy.out_paths import check_dir, claim_dir
    from codeclm_dspy.pipeline.records import Seed
    from tests import scripted

    out = tmp_path / "run"
    config = scripted.config(pipeline={"num_instructions": 1})
    cc.generate(config, [Seed("s0", "What is a roux?")], out)
    (out / ".dataset-build-x1y2" / "dataset").mkdir(parents=True)
    (out / ".report.html.4242.tmp").write_text("<html")
    (out / ".codeclm.4242.1.tmp").write_text("")
    assert check_dir(out, "run") == out.resolve()
    cc.generate(config, [Seed("s0", "What is a roux?")], out)  # resumes, and the save clears its scratch
    assert not (out / ".dataset-build-x1y2").exists() and (out / "dataset").is_dir()

    # a full disk while claiming left only a temp marker: the directory is still free to claim
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / ".codeclm.4242.1.tmp").write_text("")
    assert claim_dir(tmp_path / "new", "run") == (tmp_path / "new").resolve()
    # a stranger's file of a similar name is still foreign
    (out / ".notes.4242.tmp").write_text("mine")
    with pytest.raises(Exception, match="never holds"):
        check_dir(out, "run")


def test_a_replaced_file_is_its_earlier_whole_self_or_its_new_one(tmp_path):
    # manifest.json, kept.jsonl, program.json and report.html are all written this way
    from codeclm_dspy.out_paths import atomic_write
    from codeclm_dspy.out_paths.atomic import temp_name
    from codeclm_dspy.out_paths.kinds import leftover

    target = tmp_path / "kept.jsonl"
    target.write_text("earlier\n")
    with pytest.raises(OSError, match="No space"), atomic_write(target) as handle:
        handle.write("half a row")
        raise OSError(28, "No space left on device")
    assert target.read_text() == "earlier\n" and os.listdir(tmp_path) == ["kept.jsonl"]

    with atomic_write(target) as handle:
        handle.write("new\n")
    assert target.read_text() == "new\n" and os.listdir(tmp_path) == ["kept.jsonl"]
    # a kill midway leaves the temp file: the directory's rule knows it as its own
    assert leftover(temp_name(target).name, "run")
    assert leftover(temp_name(tmp_path / "program.json").name, "program")

    # a name whose temp file is too long for the file system is the path's problem (exit 2), not a stop
    from codeclm_dspy.errors import RunDirError
    from codeclm_dspy.out_paths import replace_file

    with pytest.raises(RunDirError, match="File name too long"):
        replace_file(tmp_path / f"{'r' * 250}.html", "<html>")
