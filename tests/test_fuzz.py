"""A seeded mutation fuzz of the CLI: whatever a user types, no traceback, no crash, no false success.

Each case takes a valid set of inputs (config, seeds as JSONL or CSV, a
benchmark, a sweep space, a storage URL, an output path), mutates one of
them the way a hostile or careless user would, runs one command in-process
(``typer.testing.CliRunner``) and checks what the user depends on:

- no Python traceback, no ``--- Logging error ---``, no exception escaping;
- a non-zero exit says why (an error message), and leaves no output that
  claims to be complete;
- an exit of 0 left a complete run;
- a directory the user owns (``precious/``, or a foreign ``--out``) is
  never modified.

Inputs that could crash the interpreter itself (nesting 100,000 deep) run
in a subprocess, whose exit must not be a signal. ``CODECLM_FUZZ_CASES``
sets the number of cases (default 300, sized for CI); ``CODECLM_FUZZ_SEED``
the seed.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app

CASES = int(os.environ.get("CODECLM_FUZZ_CASES", "300"))
SEED = int(os.environ.get("CODECLM_FUZZ_SEED", "0"))

CONFIG = """\
models:
  strong: {model: scripted/strong}
  target: {model: scripted/target}
  judge: {model: scripted/judge}
pipeline:
  metadata_pool_size: 2
  num_instructions: 2
  max_iterations: 2
  max_decode_rounds: 2
seeds: {instruction_field: instruction, id_field: id}
engine: {workers: 1, parse_retries: 0, budget: {max_calls: 200}}
random_seed: 0
"""
SEEDS = [
    {"id": "s1", "instruction": "Explain how a bicycle gear works."},
    {"id": "s2", "instruction": "Write a short note to a neighbour about a parcel."},
]
SEEDS_CSV = 'id,instruction\ns1,Explain how a bicycle gear works.\ns2,"Write a note, briefly."\n'
BENCHMARK = [
    {"id": f"b{k}", "instruction": f"Question number {k} about cooking rice well", "category": "c"}
    for k in range(6)
]
SPACE = """\
objectives: {quality: distinct_2, cost: calls_per_kept}
params:
  pipeline.threshold: {low: 0.5, high: 2.0}
"""
STORAGE = [
    "sqlite:///{dir}/study.db",
    "postgresql://fuzz:secret@127.0.0.1:1/db",
    "mysql://u:p@localhost:3306/db",
]
VALUES = [
    "true",
    "false",
    "null",
    "1e30",
    "-1",
    "0",
    "''",
    ".nan",
    ".inf",
    "99999999999999999999",
    "[]",
    "{}",
    '"\\ud800"',
    '"\\x00"',
    "x" * 3000,
    "&a [*a]",
    "!!python/object:os.system ls",
    "0x1F",
    "'1'",
]
BYTES = [
    b"\x00",
    b"\xff\xfe",
    b"\x80",
    b"\xc3",
    b"\t",
    b"\r",
    b"\n\n",
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b":",
    b",",
    b"---\n",
    b"\xed\xa0\x80",
    b"\\ud800",
    b"&x ",
    b"*x ",
    b"- ",
    b"#",
]


@dataclass
class Case:
    command: str
    files: dict[str, bytes]
    args: list[str]
    note: str
    subprocess: bool = False
    outputs: list[str] = field(default_factory=list)


def _dump_jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _mutate_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    kind = rng.choice(["insert", "delete", "duplicate", "truncate", "replace"])
    at = rng.randrange(len(data) + 1)
    if kind == "insert":
        chunk = rng.choice(BYTES)
        return data[:at] + chunk + data[at:], f"insert {chunk!r} at {at}"
    if kind == "delete":
        n = rng.randint(1, 12)
        return data[:at] + data[at + n :], f"delete {n} at {at}"
    if kind == "duplicate":
        n = rng.randint(1, 40)
        return data[:at] + data[at : at + n] * rng.randint(2, 5) + data[at:], f"duplicate {n} at {at}"
    if kind == "truncate":
        return data[:at], f"truncate at {at}"
    n = rng.randint(1, 4)
    return data[:at] + bytes(rng.randrange(256) for _ in range(n)) + data[at + n :], f"random bytes at {at}"


def _mutate_yaml_value(rng: random.Random, text: str) -> tuple[str, str]:
    lines = text.splitlines()
    candidates = [k for k, line in enumerate(lines) if ":" in line and not line.rstrip().endswith(":")]
    k = rng.choice(candidates)
    key = lines[k].split(":", 1)[0]
    value = rng.choice(VALUES)
    if "{" in lines[k] and rng.random() < 0.5:  # inside a flow mapping: swap one inner value
        inner = lines[k].split("{", 1)[1]
        name = inner.split(":", 1)[0].strip()
        lines[k] = lines[k].replace(inner, f"{name}: {value}}}", 1)
    else:
        lines[k] = f"{key}: {value}"
    return "\n".join(lines) + "\n", f"line {k + 1} -> {lines[k][:60]!r}"


def _mutate_records(rng: random.Random, rows: list[dict]) -> tuple[bytes, str]:
    rows = [dict(r) for r in rows]
    row = rng.choice(rows)
    key = rng.choice([*row, "input", "id"])
    value = rng.choice(
        [
            None,
            True,
            3.5,
            float("nan"),
            [],
            {},
            "",
            " \n ",
            "\ud800",
            "a\x00b",
            "x" * 5000,
            ["turn one", "turn two"],
            12,
            {"nested": [1, 2]},
        ]
    )
    row[key] = value
    if rng.random() < 0.2:
        rows.append(dict(row))  # a duplicate id
    text = "".join(json.dumps(r, allow_nan=True) + "\n" for r in rows)
    return text.encode("utf-8", "surrogatepass"), f"{key}={value!r:.40}"


def _csv_variant(rng: random.Random) -> tuple[bytes, str]:
    variants = {
        "unterminated quote": 'id,instruction\ns1,"Explain gears\ns2,ok\n',
        "duplicated header": "id,instruction,instruction\ns1,a b c,d e f\n",
        "row longer than header": "id,text\ns1,Explain gears,extra,more\n",
        "NUL byte": "id,instruction\ns1,Explain\x00 gears\n",
        "no header": "",
        "header only": "id,instruction\n",
        "no instruction column": "id,prompt\ns1,Explain gears\n",
    }
    name = rng.choice(sorted(variants))
    return variants[name].encode(), f"csv: {name}"


def _out_variant(rng: random.Random, root: Path) -> tuple[str, str, dict[str, bytes]]:
    """An --out path and the files to plant first (relative to root)."""
    name = rng.choice(["foreign", "file", "long", "under-file", "junk-state", "state-dir", "thesis", "fresh"])
    if name == "foreign":
        return str(root / "mine"), name, {"mine/notes.txt": b"my notes"}
    if name == "file":
        return str(root / "taken"), name, {"taken": b"a file"}
    if name == "long":
        return str(root / ("x" * 300)), name, {}
    if name == "under-file":
        return str(root / "taken" / "out"), name, {"taken": b"a file"}
    if name == "junk-state":
        return str(root / "junk"), name, {"junk/state.sqlite": b"not a database at all"}
    if name == "state-dir":
        return str(root / "sd"), name, {"sd/state.sqlite/keep": b"x"}
    if name == "thesis":
        return str(root / "th"), name, {"th/state.sqlite": b"", "th/mythesis.tex": b"\\section{Mine}"}
    return str(root / "out"), name, {}


def make_case(rng: random.Random, root: Path) -> Case:
    command = rng.choice(["generate", "generate-csv", "split", "crr", "compile", "sweep-best", "sweep-space"])
    files = {
        "config.yaml": CONFIG.encode(),
        "seeds.jsonl": _dump_jsonl(SEEDS),
        "seeds.csv": SEEDS_CSV.encode(),
        "bench.jsonl": _dump_jsonl(BENCHMARK),
        "space.yaml": SPACE.encode(),
    }
    out, note = str(root / "out"), "valid"
    target = rng.choice(["config", "data", "out", "data", "config"])
    if target == "out" and command != "sweep-space":
        out, note, planted = _out_variant(rng, root)
        files.update(planted)
    elif target == "config":
        if rng.random() < 0.5:
            text, note = _mutate_yaml_value(rng, CONFIG)
            files["config.yaml"] = text.encode("utf-8", "surrogatepass")
        else:
            files["config.yaml"], note = _mutate_bytes(rng, CONFIG.encode())
    else:
        key = {
            "generate": "seeds.jsonl",
            "generate-csv": "seeds.csv",
            "compile": "seeds.jsonl",
            "split": "bench.jsonl",
            "crr": "bench.jsonl",
            "sweep-space": "space.yaml",
        }.get(command)
        if key == "seeds.csv":
            files[key], note = (
                _csv_variant(rng) if rng.random() < 0.5 else _mutate_bytes(rng, SEEDS_CSV.encode())
            )
        elif key == "space.yaml":
            if rng.random() < 0.5:
                text, note = _mutate_yaml_value(rng, SPACE)
                files[key] = text.encode("utf-8", "surrogatepass")
            else:
                files[key], note = _mutate_bytes(rng, SPACE.encode())
        elif key is not None:
            rows = SEEDS if key == "seeds.jsonl" else BENCHMARK
            files[key], note = (
                _mutate_records(rng, rows) if rng.random() < 0.6 else _mutate_bytes(rng, files[key])
            )
    r = str(root)
    storage = rng.choice(STORAGE).format(dir=r)
    if command == "sweep-best" and target != "out":
        storage, note = _mutate_url(rng, storage)
    args = {
        "generate": [
            "generate",
            "--config",
            f"{r}/config.yaml",
            "--seeds",
            f"{r}/seeds.jsonl",
            "--out",
            out,
            "-q",
        ],
        "generate-csv": [
            "generate",
            "--config",
            f"{r}/config.yaml",
            "--seeds",
            f"{r}/seeds.csv",
            "--out",
            out,
            "-q",
        ],
        "split": ["eval", "split", "--benchmark", f"{r}/bench.jsonl", "--out", out],
        "crr": [
            "eval",
            "crr",
            "--config",
            f"{r}/config.yaml",
            "--benchmark",
            f"{r}/bench.jsonl",
            "--out",
            out,
            "--limit",
            "2",
            "-q",
        ],
        "compile": [
            "compile",
            "--config",
            f"{r}/config.yaml",
            "--seeds",
            f"{r}/seeds.jsonl",
            "--out",
            out,
            "-q",
        ],
        "sweep-best": [
            "sweep",
            "best",
            "--storage",
            storage,
            "--out",
            f"{out}.yaml" if target != "out" else out,
        ],
        "sweep-space": [
            "sweep",
            "--config",
            f"{r}/config.yaml",
            "--space",
            f"{r}/space.yaml",
            "--seeds",
            f"{r}/seeds.jsonl",
            "--heldout",
            f"{r}/bench.jsonl",
            "--trials",
            "1",
            "--out",
            f"{r}/sweep",
        ],
    }[command]
    return Case(command, files, args, f"{target}: {note}", outputs=[out])


def _mutate_url(rng: random.Random, url: str) -> tuple[str, str]:
    choice = rng.choice(["port0", "port-big", "port-text", "control", "space", "scheme", "bytes"])
    if choice == "port0":
        url = url.replace(":1/", ":0/").replace(":3306/", ":0/")
    elif choice == "port-big":
        url = url.replace(":1/", ":99999/").replace(":3306/", ":70000/")
    elif choice == "port-text":
        url = url.replace(":1/", ":abc/").replace(":3306/", ":x/")
    elif choice == "control":
        url = url[:8] + "\x07\n" + url[8:]
    elif choice == "space":
        url = url.replace("//", "// ", 1)
    elif choice == "scheme":
        url = "redis" + url[url.index(":") :]
    else:
        data, _ = _mutate_bytes(rng, url.encode())
        url = data.decode("utf-8", "replace")
    return url, f"storage {choice}: {url[:60]!r}"


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (symlinks not followed)."""
    if not path.exists():
        return {}
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _complete(out: Path) -> bool:
    manifest = out / "manifest.json"
    try:
        return json.loads(manifest.read_text())["status"] == "complete"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def check(case: Case, root: Path, runner: CliRunner) -> str | None:
    """Run one case; the problem found, or None. ``case.outputs`` gains the exit code."""
    for rel, data in case.files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "precious").mkdir(exist_ok=True)
    (root / "precious" / "keep.txt").write_text("do not touch")
    planted = {rel for rel in case.files if "/" in rel or rel in ("taken",)}
    foreign = {p: snapshot(root / p.split("/")[0]) for p in planted}
    precious = snapshot(root / "precious")
    result = runner.invoke(app, case.args)
    case.outputs.append(str(result.exit_code))
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"exception escaped: {type(result.exception).__name__}: {result.exception}"
    if "Traceback" in output or "--- Logging error ---" in output:
        return f"traceback in output: {output[-400:]}"
    if snapshot(root / "precious") != precious:
        return "a directory the user owns was modified"
    out = Path(case.outputs[0])
    if result.exit_code != 0:
        if "error" not in output.lower():
            return f"exit {result.exit_code} without an error message: {output[-300:]!r}"
        if case.command in ("generate", "generate-csv", "crr", "compile") and _complete(out):
            return "a failed command left a manifest that says complete"
        for rel, before in foreign.items():
            if snapshot(root / rel.split("/")[0]) != before:
                return f"foreign {rel.split('/')[0]}/ was modified"
    elif case.command in ("generate", "generate-csv", "crr", "compile") and not _complete(out):
        return "exit 0 but the output is not a complete run"
    return None


@pytest.fixture
def fuzz_script(script):
    """The scripted models answer every step of every command."""
    script.handlers["evaluate"] = lambda r, i, p: {"score_1": 6, "score_2": 4, "explanation": "fine"}
    return script


def test_fuzzed_inputs_never_crash_or_pass_for_success(fuzz_script, tmp_path, monkeypatch):
    rng = random.Random(SEED)
    runner = CliRunner()
    failures, outcomes = [], {}
    for n in range(CASES):
        case = make_case(rng, tmp_path / f"c{n:04d}")
        root = tmp_path / f"c{n:04d}"
        root.mkdir()
        monkeypatch.setenv("CODECLM_CACHE_DIR", str(root / "cache"))
        problem = check(case, root, runner)
        label = f"{case.command} exit {case.outputs[-1]}" if len(case.outputs) > 1 else case.command
        outcomes[label] = outcomes.get(label, 0) + 1
        if problem:
            failures.append(f"case {n} {case.command} [{case.note}] {' '.join(case.args)[:160]}: {problem}")
    print(f"fuzz: {CASES} cases (seed {SEED}), {len(failures)} failures; by command and exit code:")
    for label, count in sorted(outcomes.items()):
        print(f"  {label}: {count}")
    # the fuzz must reach the success path too, not only refusals
    assert any(label.endswith("exit 0") and not label.startswith("sweep") for label in outcomes), outcomes
    assert not failures, "\n".join(failures[:25])


DEEP = 100_000


@pytest.mark.parametrize("where", ["bench.jsonl", "seeds.jsonl", "config.yaml"])
def test_nesting_100000_deep_is_refused_without_a_crash(tmp_path, where):
    """Run in a subprocess: a reader that recursed this deep would kill the interpreter."""
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "seeds.jsonl").write_bytes(_dump_jsonl(SEEDS))
    (tmp_path / "bench.jsonl").write_bytes(_dump_jsonl(BENCHMARK))
    deep = "[" * DEEP + "]" * DEEP
    if where == "config.yaml":
        (tmp_path / where).write_text(CONFIG + f"extra: {deep}\n")
    else:
        (tmp_path / where).write_text(f'{{"id": "x", "instruction": {deep}}}\n')
    command = (
        ["eval", "split", "--benchmark", str(tmp_path / "bench.jsonl"), "--out", str(tmp_path / "split")]
        if where == "bench.jsonl"
        else [
            "generate",
            "--config",
            str(tmp_path / "config.yaml"),
            "--seeds",
            str(tmp_path / "seeds.jsonl"),
            "--out",
            str(tmp_path / "out"),
            "-q",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-m", "codeclm_dspy", *command],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CODECLM_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert done.returncode > 0, (done.returncode, done.stderr[-500:])  # an error, not a signal
    assert "Traceback" not in done.stderr and "error" in done.stderr.lower(), done.stderr[-500:]
