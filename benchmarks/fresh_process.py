"""Run one benchmark scenario in a fresh Python process and read back its result.

Why: peak RSS (``ru_maxrss``, ``VmHWM``) is per process and never goes down,
so every scenario that reports memory must run in a process of its own.
A benchmark module runs itself with ``--one ARG`` and prints its result as
the last line of JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_one(module: str, arg: str, what: str) -> dict:
    """``python -m module --one arg`` from the repository root: its last stdout line, parsed.

    Raises:
        SystemExit: the scenario failed; the message names ``what`` and ends with its stderr.
    """
    done = subprocess.run(
        [sys.executable, "-m", module, "--one", arg], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
