"""What every peer job shares: its arguments, the server's own count, the timed window, the result.

A peer job runs in the peer's own venv, so this file uses the standard library only. The
orchestrator (``benchmarks/peers.py``) passes one JSON argument: the stub server's ``/v1`` base
URL, the concurrency, the number of completions ``n``, a scratch ``workdir`` and the ``result``
path. The job builds its tool's generation job, and ``measure`` times it from construction to
the finished dataset, reading the server's request counter at both ends, so the calls reported
are the ones the server saw inside the timed window, probes and health checks included.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any


def arguments() -> dict:
    """Return the job's arguments, the single JSON object on the command line."""
    return json.loads(sys.argv[1])


def prompts(n: int) -> list[str]:
    """Return ``n`` distinct single-turn requests, the same ones for every tool."""
    return [f"Write one short sentence about everyday topic number {i}." for i in range(n)]


def server_requests(url: str) -> int:
    """Return the stub server's count of chat requests received so far."""
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as response:
        return int(json.loads(response.read())["requests"])


def measure(args: dict, job: Callable[[], Any], count: Callable[[Any], int], package: str) -> None:
    """Time ``job`` and write the result file.

    Args:
        args: The job's arguments (see the module docstring).
        job: Builds the tool's job and runs it to a finished dataset, which it returns.
        count: Counts the rows of that dataset, outside the timed window (a check, not work).
        package: The distribution whose installed version the result names.
    """
    before = server_requests(args["url"])
    started = time.monotonic()
    dataset = job()
    wall = time.monotonic() - started
    calls = server_requests(args["url"]) - before
    rows = count(dataset)
    result = {
        "wall_s": round(wall, 3),
        "calls": calls,
        "rows": rows,
        "version": f"{package} {version(package)}",
    }
    Path(args["result"]).write_text(json.dumps(result) + "\n")
