"""Shared set-up for the run-engine tests: a stub server config and a CLI runner."""

from __future__ import annotations

import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
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


def command(config: Path, seeds: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "codeclm_dspy",
        "generate",
        "--config",
        str(config),
        "--seeds",
        str(seeds),
        "--out",
        str(out),
        "--quiet",
    ]


def env(tmp: Path, key: str = "sk-stub-test") -> dict[str, str]:
    """The CLI's environment: the stub's key, and a cache directory of the test's own."""
    return {
        **os.environ,
        "STUB_API_KEY": key,
        "CODECLM_CACHE_DIR": str(tmp / "cache"),
        "PYTHONPATH": str(ROOT),
    }


def run_cli(config: Path, seeds: Path, out: Path, tmp: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        command(config, seeds, out), env=env(tmp, **kw), capture_output=True, text=True, timeout=600
    )


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open()] if path.exists() else []


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _cli_in_child(argv: list[str], environ: dict[str, str]) -> None:
    """The body of a forked CLI session: the environment, no output, the CLI's entry point."""
    os.environ.clear()
    os.environ.update(environ)
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    from codeclm_dspy.cli import app

    app(argv, prog_name="codeclm")


class ForkedCLI:
    """CLI sessions forked from a server that has already imported the CLI.

    A fresh interpreter spends seconds importing DSPy, LiteLLM and datasets
    before its first call; a test that kills a run at many points would
    spend most of its time there. The stdlib's forkserver imports them once
    and forks each session from that state; a session is still its own
    process, running the same entry point as ``codeclm`` with the same
    arguments, and SIGKILL ends it as abruptly.
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
        argv = command(config, seeds, out)[3:]  # without "python -m codeclm_dspy"
        process = self._context.Process(target=_cli_in_child, args=(argv, env(tmp)), daemon=True)
        process.start()
        return process


def recorded_calls(out) -> int:
    """Provider answers in a run's journal, read from outside the run (0 before it exists)."""
    try:
        with sqlite3.connect(f"file:{out / 'state.sqlite'}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM calls WHERE source = 'provider'").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0
