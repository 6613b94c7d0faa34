"""Hostile input files, through every command that reads them (issue 13: nothing a user types crashes it).

Each case is the minimal input of a crash class a mutation fuzz found. Every
command must refuse it with exit code 2 and one line naming the file (and the
line where there is one), before any model loads: no traceback, no logging
noise, and, for the inputs that crashed pyarrow's JSON reader, no segfault.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
models:
  strong: {model: embedded/smollm2-135m-instruct}
  target: {model: embedded/gemma3-270m}
pipeline: {metadata_pool_size: 2, num_instructions: 2}
compile:
  steps:
    encode: {optimizer: LabeledFewShot}
"""
SPACE = "params:\n  pipeline.threshold: {low: 0.5, high: 3.0}\n"
GOOD_JSONL = '{"id": "a", "instruction": "Say hi."}\n{"id": "b", "instruction": "Say bye."}\n'

DEEP = 100_000  # pyarrow's JSON reader segfaulted on this; Python's parsers hit the recursion limit

# name -> (file suffix, content, what the one line must say)
RECORD_FILES = {
    "not_utf8": (".jsonl", b'{"instruction": "caf\xe9"}\n', "line 1, column 21: not UTF-8 text (byte 0xe9)"),
    "binary": (".jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "line 1, column 1: not UTF-8 text"),
    "deep_json": (
        ".jsonl",
        ('{"instruction": "x", "n": ' + "[" * DEEP + "]" * DEEP + "}\n").encode(),
        "line 1, column 90: nested deeper than 64 levels",
    ),
    "bad_json_line": (".jsonl", b'{"instruction": "ok"}\n{oops\n', "line 2, column 2: not valid JSON"),
    "scalar_line": (".jsonl", b'{"instruction": "ok"}\n5\n', "line 2: expected a JSON object"),
    "repeated_key": (
        ".jsonl",
        b'{"instruction": "a", "instruction": "b"}\n',
        "the key 'instruction' appears twice",
    ),
    "long_integer": (
        ".jsonl",
        b'{"instruction": "a", "id": ' + b"7" * 5000 + b"}\n",
        "line 1: not valid JSON",
    ),
    "lone_surrogate": (
        ".jsonl",
        b'{"instruction": "a \\ud800 b"}\n',
        "line 1: field 'instruction' holds a lone surrogate (U+D800)",
    ),
    "control_char": (
        ".jsonl",
        b'{"instruction": "a \\u0007 b"}\n',
        "line 1: field 'instruction' holds a control character (U+0007)",
    ),
    "nan_id": (
        ".jsonl",
        b'{"instruction": "a", "id": NaN}\n',
        "line 1: the id field 'id' must be text or an integer",
    ),
    "float_id": (".jsonl", b'{"instruction": "a", "id": 1.5}\n', "must be text or an integer"),
    "list_id": (".jsonl", b'{"instruction": "a", "id": [1]}\n', "must be text or an integer"),
    "dict_id": (".jsonl", b'{"instruction": "a", "id": {"k": 1}}\n', "must be text or an integer"),
    "bool_id": (".jsonl", b'{"instruction": "a", "id": true}\n', "must be text or an integer"),
    "csv_row_longer_than_header": (
        ".csv",
        b"prompt\nhello,world\n",
        "line 2: 2 fields, but the header names only 1",
    ),
    "csv_unterminated_quote": (
        ".csv",
        b'instruction\n"open\n',
        "line 2: not valid CSV (unexpected end of data)",
    ),
    "csv_repeated_header": (
        ".csv",
        b"instruction,instruction\na,b\n",
        "line 1: the header names the column 'instruction' twice",
    ),
    "csv_nul_byte": (".csv", b"instruction\nab\x00c\n", "line 2, column 3: a NUL byte"),
}


@pytest.fixture
def home(tmp_path):
    """A good config, search space, seeds, held-out set and finished run: only the file under test is bad."""
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "space.yaml").write_text(SPACE)
    (tmp_path / "seeds.jsonl").write_text(GOOD_JSONL)
    (tmp_path / "heldout.jsonl").write_text(GOOD_JSONL)
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text('{"method": "codeclm", "status": "complete", "usage": {}}')
    (run / "kept.jsonl").write_text(GOOD_JSONL)
    return tmp_path


def commands(home: Path, bad: Path, kind: str) -> dict[str, list[str]]:
    """Every command line that reads a file of ``kind`` (records, config, space), reading ``bad`` there."""
    c, s, h, out = home / "config.yaml", home / "seeds.jsonl", home / "heldout.jsonl", home / "out"
    if kind == "config":
        return {
            "generate": ["generate", "--config", bad, "--seeds", s, "--out", out, "-q"],
            "compile": ["compile", "--config", bad, "--seeds", s, "--out", out, "-q"],
            "eval crr": ["eval", "crr", "--config", bad, "--benchmark", h, "--out", out, "-q"],
            "sweep": [
                "sweep",
                "--config",
                bad,
                "--space",
                home / "space.yaml",
                "--seeds",
                s,
                "--heldout",
                h,
                "--out",
                out,
            ],
        }
    if kind == "space":
        return {"sweep": ["sweep", "--config", c, "--space", bad, "--seeds", s, "--heldout", h, "--out", out]}
    return {
        "generate --seeds": ["generate", "--config", c, "--seeds", bad, "--out", out, "-q"],
        "generate --metadata": ["generate", "--config", c, "--metadata", bad, "--out", out, "-q"],
        "compile": ["compile", "--config", c, "--seeds", bad, "--out", out, "-q"],
        "eval split": ["eval", "split", "--benchmark", bad, "--out", out],
        "eval crr": ["eval", "crr", "--config", c, "--benchmark", bad, "--out", out, "-q"],
        "eval compare --against": ["eval", "compare", home / "run", "--against", bad, "--out", out],
        "eval compare --eval-set": [
            "eval",
            "compare",
            home / "run",
            "--against",
            h,
            "--eval-set",
            f"x={bad}",
            "--out",
            out,
        ],
        "sweep --seeds": [
            "sweep",
            "--config",
            c,
            "--space",
            home / "space.yaml",
            "--seeds",
            bad,
            "--heldout",
            h,
            "--out",
            out,
        ],
        "sweep --heldout": [
            "sweep",
            "--config",
            c,
            "--space",
            home / "space.yaml",
            "--seeds",
            s,
            "--heldout",
            bad,
            "--out",
            out,
        ],
    }


def refused(args: list, name: str) -> str:
    """Run the CLI in-process; it must exit 2 with one line naming ``name``. Returns that line."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output and result.exc_info[0] is SystemExit, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("codeclm: error:") and name in lines[0], output
    return lines[0]


@pytest.mark.parametrize("case", RECORD_FILES)
def test_bad_record_files_are_refused_by_every_reader(home, case):
    suffix, content, message = RECORD_FILES[case]
    bad = home / f"bad{suffix}"
    bad.write_bytes(content)
    for command, args in commands(home, bad, "records").items():
        if command == "generate --metadata" and case.endswith("_id"):
            continue  # a metadata record's id is read after its use case: test_metadata_ids_are_checked
        line = refused(args, f"bad{suffix}")
        assert message in line, (command, line)
        assert not (home / "out" / "manifest.json").exists(), command


@pytest.mark.parametrize("value", ["NaN", "1.5", "[1]", "true"])
def test_metadata_ids_are_checked(home, value):
    bad = home / "metadata.jsonl"
    bad.write_text(f'{{"use_case": "cooking", "skills": ["baking"], "id": {value}}}\n')
    args = ["generate", "--config", home / "config.yaml", "--metadata", bad, "--out", home / "out", "-q"]
    assert "metadata.jsonl line 1: the id field 'id' must be text or an integer" in refused(
        args, "metadata.jsonl"
    )


def test_a_directory_or_missing_file_is_named(home):
    (home / "adir").mkdir()
    for command, args in commands(home, home / "adir.jsonl", "records").items():
        if not command.startswith(("eval split", "eval crr", "eval compare", "sweep --heldout")):
            assert "not found" in refused(args, "adir.jsonl"), command  # a benchmark may be a hub id
    for command, args in commands(home, home / "adir", "config").items():
        assert "adir is a directory, not a config file" in refused(args, "adir"), command
    assert "is a directory, not a search space file" in refused(
        commands(home, home / "adir", "space")["sweep"], "adir"
    )


# name -> (YAML text, what the one line must say); each is a whole config or search space
YAML_FILES = {
    "not_utf8": (CONFIG.encode() + b"# caf\xe9\n", "line 8, column 6: not UTF-8 text"),
    "deep_flow": (
        (CONFIG + "random_seed: " + "[" * 5000 + "]" * 5000 + "\n").encode(),
        "line 8, column 77: nested deeper than 64",
    ),
    "deep_block": (
        (CONFIG + "x:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(70))).encode(),
        "nested deeper than 64 levels",
    ),
    "self_referencing_anchor": (
        CONFIG.replace("embedded/gemma3-270m}", "embedded/gemma3-270m, extra_params: &a {x: *a}}").encode(),
        "line 3, column 62: the alias *a is inside its own anchor",
    ),
    "alias_bomb": (
        (
            CONFIG
            + "x:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"  {n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcde", "bcdef", strict=True)
            )
        ).encode(),
        "more than 100000 values once aliases are expanded",
    ),
    "syntax": (b"models: [1, 2\npipeline: 3\n", "line 2, column 9: not valid YAML"),
    "repeated_key": ((CONFIG + "models: {}\n").encode(), "line 8, column 1: the key 'models' appears twice"),
    "long_integer": (
        (CONFIG + "random_seed: " + "7" * 5000 + "\n").encode(),
        "line 8, column 14: not valid YAML",
    ),
    "nul_byte": (CONFIG.encode() + b"#\x00\n", "line 8, column 2: a NUL byte"),
}


@pytest.mark.parametrize("case", YAML_FILES)
def test_bad_yaml_is_refused_with_its_line_and_column(home, case):
    content, message = YAML_FILES[case]
    bad = home / "bad.yaml"
    bad.write_bytes(content)
    for kind in ("config", "space"):
        for command, args in commands(home, bad, kind).items():
            assert message in refused(args, "bad.yaml"), (kind, command)


@pytest.mark.parametrize(
    ("command", "case"),
    [(c, k) for c in ("split", "crr") for k in ("deep_json", "bad_json_line", "scalar_line", "binary")],
)
def test_benchmarks_fail_cleanly_in_a_real_process(home, command, case):
    """In a subprocess: a segfault (pyarrow on deep nesting) or a `--- Logging error ---` traceback
    printed by HF datasets' logging would not show in CliRunner's captured output."""
    suffix, content, message = RECORD_FILES[case]
    bad = home / f"bad{suffix}"
    bad.write_bytes(content)
    args = {
        "split": ["eval", "split", "--benchmark", bad, "--out", home / "out"],
        "crr": [
            "eval",
            "crr",
            "--config",
            home / "config.yaml",
            "--benchmark",
            bad,
            "--out",
            home / "out",
            "-q",
        ],
    }
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "codeclm_dspy", *map(str, args[command])],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=home,
    )
    assert done.returncode == 2, (done.returncode, done.stderr)  # a segfault is -11 (139 in a shell)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and f"bad{suffix}" in lines[0] and message in lines[0], done.stderr


def test_what_is_valid_still_reads(tmp_path):
    """The checks refuse only what is broken: brackets inside strings, 64 levels, a BOM, a
    quoted field over two lines, a short CSV row and a JSON array all read as before."""
    from codeclm_dspy.files import csv_records, json_records
    from codeclm_dspy.seeds import load_seeds
    from evals.benchmarks import BenchmarkError, load_benchmark

    edge = tmp_path / "edge.jsonl"
    nested = "[" * 63 + "]" * 63  # 64 levels with the record itself
    edge.write_text(
        f'{{"instruction": "Explain {"[" * 500} in a string", "n": {nested}}}\n\n{{"instruction": "b"}}\n'
    )
    assert [where for where, _ in json_records(edge, "seeds file")] == ["line 1", "line 3"]
    assert load_seeds(edge)[0].instruction.startswith("Explain [[[")

    table = tmp_path / "bench.csv"
    table.write_bytes('\ufeffid,instruction,input\n1,"Two\nlines",x\n2,Short row\n'.encode())
    rows = csv_records(table, "benchmark file")
    assert rows == [
        ("line 2", {"id": "1", "instruction": "Two\nlines", "input": "x"}),
        ("line 4", {"id": "2", "instruction": "Short row", "input": ""}),
    ]
    assert [i.text for i in load_benchmark(table)] == ["Two\nlines\n\nx", "Short row"]

    array = tmp_path / "outputs.json"
    array.write_text('[\n  {"instruction": "a", "id": 7},\n\n  {"instruction": "b"}\n]\n')
    assert [where for where, _ in json_records(array, "benchmark file")] == ["line 2", "line 4"]
    assert [i.id for i in load_benchmark(array)] == ["7", "item-2"]
    array.write_text('[\n  {"instruction": "a"},\n  "b"\n]\n')
    with pytest.raises(BenchmarkError, match=r"outputs\.json line 3: expected a JSON object, not str"):
        load_benchmark(array)


def test_a_benchmark_item_without_text_is_named_not_dropped(home):
    bad = home / "bench.jsonl"
    bad.write_text('{"id": "a", "instruction": "Say hi."}\n{"id": "b", "instruction": "  "}\n')
    line = refused(["eval", "split", "--benchmark", bad, "--out", home / "out"], "bench.jsonl")
    assert "line 2: no text in 'instruction'" in line
