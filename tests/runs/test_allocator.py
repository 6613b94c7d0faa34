"""A run's process gives large freed blocks back to the system (``runs/allocator.py``).

Each case runs in a fresh interpreter, so glibc's thresholds start where
glibc starts them, and without any malloc setting of the environment the
tests run in. The pattern is a long run's: one large block freed (after
which glibc's defaults serve large blocks from the heap), then 64 buffers of
1 MiB freed while blocks of 200 KB allocated between them stay alive (12.2
MiB in all). With the thresholds fixed the buffers' memory leaves the
process; with the defaults the live blocks pin it on the heap.
"""

import json
import os
import subprocess
import sys

import pytest

from codeclm_dspy.runs.allocator import USER_SETTINGS, on_glibc

pytestmark = pytest.mark.skipif(not on_glibc(), reason="glibc's malloc only")

CHURN = """
import json, sys
from codeclm_dspy.runs.allocator import keep_thresholds_fixed

def anon_mb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon"):
            return int(line.split()[1]) / 1024

fixed = keep_thresholds_fixed() if sys.argv[1] == "fixed" else None
big = b"x" * (16 << 20)
del big  # glibc's defaults now serve blocks under 16 MiB from the heap
before = anon_mb()
buffers, alive = [], []
for _ in range(64):
    buffers.append(b"y" * (1 << 20))
    alive.append(b"z" * 200_000)  # long-lived, between the buffers
del buffers
print(json.dumps({"fixed": fixed, "kept_mb": anon_mb() - before}))
"""


def churn(mode: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in USER_SETTINGS and k != "GLIBC_TUNABLES"}
    done = subprocess.run(
        [sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True, env={**clean, **env}
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_freed_buffers_leave_the_process_once_the_thresholds_are_fixed():
    default, fixed = churn("default"), churn("fixed")
    assert fixed["fixed"] is True
    assert default["kept_mb"] > 60  # the 64 MiB of buffers stay on glibc's heap
    assert fixed["kept_mb"] < 20  # only the live blocks


def test_a_threshold_set_in_the_environment_is_left_as_the_user_set_it():
    # 32 MiB: every 1 MiB buffer comes from the heap, as the user asked
    kept = churn("fixed", MALLOC_MMAP_THRESHOLD_=str(32 << 20))
    assert kept["fixed"] is False
    assert kept["kept_mb"] > 60
