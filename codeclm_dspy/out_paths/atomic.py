"""``atomic_write``: a file is either its earlier whole self or its new whole self, never half.

Every file codeclm replaces (manifest.json, kept.jsonl and rejected.jsonl,
program.json, report.html, a sweep's best config) is written here: into a
temp file beside it, flushed and fsynced, then renamed over it. A kill or a
full disk midway leaves the earlier file as it was, plus at most the temp
file, which ``kinds.leftover`` knows as ours and the next write replaces.

Written by hand because the standard library has no atomic replace of a
text file, and the one place to get the temp name, the fsync and the
clean-up right matters more than the dozen lines.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

# What a disk says when it has no room (or fails): a stop, exit 4, and the same command with
# room again goes on. Any other OSError (a name too long, a permission) is the path's fault.
NO_ROOM = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO})


# what every such stop tells the user to do
WITH_ROOM = "free some space and run the same command again"


def no_room(exc: BaseException) -> bool:
    """Whether ``exc`` is the disk refusing a write (``NO_ROOM``), not a problem with the path."""
    return isinstance(exc, OSError) and exc.errno in NO_ROOM


def temp_name(path: Path) -> Path:
    """Where ``path`` is written before the rename (``kinds._REPLACING`` matches it)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


@contextmanager
def atomic_write(path: Path) -> Iterator[TextIO]:
    """A text handle whose content replaces ``path`` when the block ends without an error.

    Raises:
        OSError: the write, the fsync or the rename failed (a full disk, a
            lost permission). The temp file is removed and ``path`` is as it
            was; callers turn the error into their own stop.
    """
    tmp = temp_name(path)
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):  # removing needs no room, but may lack permission
            tmp.unlink(missing_ok=True)
        raise
