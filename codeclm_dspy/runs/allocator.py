"""Keep glibc from holding on to memory a long run has freed: fixed trim and mmap thresholds.

Why: glibc's malloc starts by serving blocks of 128 KiB or more with their
own ``mmap`` (returned to the system when freed) and by giving back free
memory above 128 KiB at the top of its heap. The first time the process
frees a large ``mmap``-ed block, glibc raises the mmap threshold to that
block's size (up to 32 MiB on 64-bit) and the trim threshold to twice it;
from then on large blocks come from the heap and stay there once freed,
held in place by whatever lives beside them. A run makes and frees large
blocks throughout, so its heap grew with its length. Sampling the run's
peak RSS while the pipeline runs (0 ms stub server, docs/engine.md):
307.7 -> 322.9 MB from 1,000 to 10,000 pairs with glibc's defaults (+15.2),
308.5 -> 313.0 MB with the thresholds fixed at their starting value (+4.5).
Setting either threshold turns the raising off, which is all this does
(glibc's ``mallopt``). The environment variables ``MALLOC_MMAP_THRESHOLD_``
and ``MALLOC_TRIM_THRESHOLD_`` do the same but must be set before the process
starts, and a run's process is often a notebook or a sweep that started long
before.

No library does this. It is process-wide and stays after the run, so a
process whose environment already sets either threshold (or any glibc malloc
tunable) keeps its own choice: that is also how to opt out, e.g.
``MALLOC_MMAP_THRESHOLD_=33554432``. Elsewhere than glibc (macOS, musl,
Windows) it does nothing. The cost is one ``mmap`` and ``munmap`` per block
of 128 KiB or more, as at the start of every glibc process.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
THRESHOLD = 128 * 1024  # glibc's own starting value of both
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

_done = False


def on_glibc() -> bool:
    """Whether this process's C library is glibc (whose malloc this module tunes)."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def keep_thresholds_fixed() -> bool:
    """Fix glibc's trim and mmap thresholds at 128 KiB, once per process.

    Returns:
        True once they are fixed; False where this is not glibc, where the
        environment sets malloc's thresholds or tunables itself, or where
        glibc refused (the next session tries again).
    """
    global _done
    if _done:
        return True
    if not on_glibc():
        return False
    if any(name in os.environ for name in USER_SETTINGS) or "malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        logger.debug("the environment sets glibc's malloc thresholds; leaving them as they are")
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    ok = all(mallopt(option, THRESHOLD) == 1 for option in (M_TRIM_THRESHOLD, M_MMAP_THRESHOLD))
    if not ok:
        logger.debug("glibc refused the malloc thresholds; memory may grow with the run's length")
    _done = ok
    return ok
