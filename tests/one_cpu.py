"""The llama.cpp tests' share of the machine when the suite runs in parallel.

``make test`` runs the suite on one pytest-xdist worker per CPU, a test file
at a time per worker (``--dist loadfile``). llama.cpp sizes its thread pool from
the CPUs a process may use (``embedded.default_threads``), and its threads
spin while they wait for each other: a model on both cores of a 2-core
machine, beside a second worker that is busy too, loses more than it gains.
So under xdist a test that runs a real llama.cpp model (markers ``embedded``
and ``server``) runs pinned to one CPU, its worker's own (worker N takes the
N-th allowed CPU), as ``taskset`` would run it; two such tests on two
workers never share a core. One thread costs a whole ``make demo`` little:
458.8 s against 445.0 s on two (see ``embedded.MAX_THREADS``). Outside xdist
nothing is pinned.

pytest-xdist's own ``--dist loadgroup`` would keep those tests on one worker,
but under pytest 9 its group marker has no effect (it renames ``item._nodeid``,
which pytest 9's ``nodeid`` no longer reads).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

MARKERS = ("embedded", "server")


def runs_llama(item: pytest.Item) -> bool:
    """Whether the test runs a real llama.cpp model."""
    return any(item.get_closest_marker(marker) for marker in MARKERS)


def _pin(cpus: set[int]) -> None:
    # sched_setaffinity(0, ...) moves only the calling thread; a process's
    # other threads (DSPy's, LiteLLM's, llama.cpp's pool) are tasks of their own.
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setaffinity(int(task), cpus)


@contextlib.contextmanager
def one_cpu() -> Iterator[None]:
    """Run the block, and any process or thread it starts, on this worker's CPU (under xdist, on Linux)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    allowed = sorted(before)
    _pin({allowed[int(worker[2:]) % len(allowed)]})
    try:
        yield
    finally:
        _pin(before)
