"""Keep glibc from holding on to memory a long run has freed: fixed trim and mmap thresholds.

Why: glibc's malloc starts by serving blocks of 128 KiB or more with their
own ``mmap`` (returned to the system when freed) and by giving back free
memory above 128 KiB at the top of its heap. The first time the process
frees a large ``mmap``-ed block, glibc raises both thresholds towards that
block's size, up to 32 MiB on 64-bit, and from then on large blocks come from
the heap and stay there once freed. In a run those blocks are the buffers of
answers, journal batches and JSON documents, freed within milliseconds, so
the heap kept growing with the run's length: the memory rows of ``make
bench`` (0 ms server, 1,000 against 10,000 pairs) put the pipeline's own
growth at +13.0 MB with glibc's defaults and +4.7 MB with the thresholds
fixed at their starting value (docs/engine.md). Setting either threshold
turns the raising off, which is all this does (glibc's ``mallopt``, the same
as ``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` in the
environment, which must be set before the process starts; a run's process is
often a notebook or a sweep that started long before).

No library does this; elsewhere than glibc (macOS, musl) it does nothing.
The settings are process-wide and stay after the run; they only keep the
thresholds where glibc starts them.
"""

from __future__ import annotations

import ctypes
import logging
import platform

logger = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
THRESHOLD = 128 * 1024  # glibc's own starting value of both

_done = False


def keep_thresholds_fixed() -> bool:
    """Fix glibc's trim and mmap thresholds at 128 KiB, once per process; False where not glibc."""
    global _done
    if _done:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    ok = all(mallopt(option, THRESHOLD) == 1 for option in (M_TRIM_THRESHOLD, M_MMAP_THRESHOLD))
    if not ok:
        logger.debug("glibc refused the malloc thresholds; memory may grow with the run's length")
    _done = ok
    return ok
