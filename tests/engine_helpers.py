"""Shared set-up for the run-engine tests: a stub server config and a CLI runner."""

from __future__ import annotations

import atexit
import gc
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import ClassVar

import yaml

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [
    {"id": f"s{i}", "instruction": text}
    for i, text in enumerate(
        [
            "My order arrived with a cracked screen; how do I get a replacement?",
            "Write a Python function that merges two sorted lists.",
            "Explain the difference between a lease and a licence in plain words.",
            "Plan a three-day trip to Lisbon on a small budget.",
        ]
    )
]


def stub_config(url: str, *, cache: bool = False, budget: dict | None = None, **role) -> dict:
    """Three roles on the stub server, a small pipeline, the paper's threshold."""
    base = {"api_base": url, "api_key_env": "STUB_API_KEY", "structured_output": "json_schema", **role}
    return {
        "models": {
            "strong": {"model": "openai/stub-strong", **base},
            "target": {"model": "openai/stub-target", **base},
            "judge": {"model": "openai/stub-judge", **base},
        },
        "pipeline": {"metadata_pool_size": 6, "num_instructions": 24, "max_iterations": 3, "threshold": 3.0},
        "engine": {"workers": 4, "cache": cache, "budget": budget or {}},
        "random_seed": 7,
    }


def write_inputs(tmp: Path, config: dict) -> tuple[Path, Path]:
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    with (tmp / "seeds.jsonl").open("w") as handle:
        for seed in SEEDS:
            handle.write(json.dumps(seed) + "\n")
    return tmp / "config.yaml", tmp / "seeds.jsonl"


def generate_args(config: Path, seeds: Path, out: Path) -> list[str]:
    """The arguments of ``codeclm`` for a quiet generate run."""
    return ["generate", "--config", str(config), "--seeds", str(seeds), "--out", str(out), "--quiet"]


def command(config: Path, seeds: Path, out: Path) -> list[str]:
    """``generate_args`` as a fresh interpreter's command line."""
    return [sys.executable, "-m", "codeclm_dspy", *generate_args(config, seeds, out)]


def env(tmp: Path, key: str = "sk-stub-test") -> dict[str, str]:
    """The CLI's environment: the stub's key, and a cache directory of the test's own."""
    return {
        **os.environ,
        "STUB_API_KEY": key,
        "CODECLM_CACHE_DIR": str(tmp / "cache"),
        "PYTHONPATH": str(ROOT),
    }


def run_cli(config: Path, seeds: Path, out: Path, tmp: Path, **kw) -> subprocess.CompletedProcess:
    """``codeclm generate`` run to its end in its own process (forked: ``ForkedCLI``)."""
    return ForkedCLI().run(generate_args(config, seeds, out), env(tmp, **kw))


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open()] if path.exists() else []


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _cli_in_child(
    argv: list[str], environ: dict[str, str], stdout: str = os.devnull, stderr: str = os.devnull
):
    """The body of a forked CLI session: the environment, its output to files, the CLI's entry point.

    A forked process leaves with ``os._exit``, which skips what an interpreter's
    exit does; the atexit handlers and a last collection run here instead, so
    whatever they print (a warning about an object left behind) is in its stderr.
    """
    os.environ.clear()
    os.environ.update(environ)
    for fd, path in ((1, stdout), (2, stderr)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(target, fd)
        os.close(target)
    from codeclm_dspy.cli import app

    try:
        app(argv, prog_name="codeclm")
    finally:
        atexit._run_exitfuncs()
        gc.collect()
        sys.stdout.flush()
        sys.stderr.flush()


class ForkedCLI:
    """CLI sessions forked from a server that has already imported the CLI.

    A fresh interpreter spends seconds importing DSPy, LiteLLM and datasets
    before its first call (8-10 s on these 2-core machines, most of a small
    run), and the suite runs the CLI about a hundred times. The stdlib's
    forkserver imports them once and forks each session from that state; a
    session is still its own process, running the same entry point as
    ``codeclm`` with the same arguments and environment, and SIGKILL ends it
    as abruptly. What a fresh interpreter alone shows (a warning at import)
    is left to the tests that start one (test_inputs_files, test_fuzz).
    """

    PRELOAD: ClassVar[list[str]] = [
        "tests.engine_helpers",
        "codeclm_dspy.cli",
        "codeclm_dspy.generate",
        "litellm.llms.openai.openai",
    ]

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(self.PRELOAD)  # no effect if a forkserver already runs

    def start(self, config: Path, seeds: Path, out: Path, tmp: Path) -> multiprocessing.Process:
        """Start ``codeclm generate`` as ``command`` would, in a forked process."""
        argv = generate_args(config, seeds, out)
        process = self._context.Process(target=_cli_in_child, args=(argv, env(tmp)), daemon=True)
        process.start()
        return process

    def run(
        self, argv: list[str], environ: dict[str, str], timeout: float = 600
    ) -> subprocess.CompletedProcess:
        """``codeclm <argv>`` to its end, as ``subprocess.run(..., capture_output=True, text=True)`` would."""
        shown = ["codeclm", *argv]
        with tempfile.TemporaryDirectory() as tmp:
            streams = [str(Path(tmp) / name) for name in ("stdout", "stderr")]
            process = self._context.Process(target=_cli_in_child, args=(argv, environ, *streams))
            process.start()
            process.join(timeout)
            if process.exitcode is None:
                process.kill()
                process.join()
                raise subprocess.TimeoutExpired(shown, timeout)
            out, err = (Path(path).read_text(encoding="utf-8") for path in streams)
        return subprocess.CompletedProcess(shown, process.exitcode, out, err)


def recorded_calls(out) -> int:
    """Provider answers in a run's journal, read from outside the run (0 before it exists)."""
    try:
        with sqlite3.connect(f"file:{out / 'state.sqlite'}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM calls WHERE source = 'provider'").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0
