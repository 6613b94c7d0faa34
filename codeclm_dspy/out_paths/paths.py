"""Whether a path can be written at all, and how it is shown in a message.

Checked before anything is created: a NUL or control character, a name or
path too long for the file system, a file where a directory should be (or
above one), no write permission. Each problem is one ``RunDirError`` naming
the path.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from codeclm_dspy.errors import RunDirError

ROOM = 100  # bytes left in a path for what we write under it


def shown(path: str | os.PathLike) -> str:
    """A path on one line: control characters (and undecodable bytes) escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in os.fspath(path))


def _failing(path: Path, what: str):
    """``fail(problem)``: raise the one message for ``path``: what is wrong with it, or whose it is."""

    def fail(problem: str):
        if problem.startswith("is "):  # whose it is: "is not a codeclm run directory: ..."
            raise RunDirError(f"{what} {shown(path)} {problem}")
        raise RunDirError(f"cannot write to {what} {shown(path)}: {problem}")

    return fail


def _resolved(path: Path, what: str) -> Path:
    """``path`` with links resolved, after checking its text and lengths."""
    fail = _failing(path, what)
    text = os.fspath(path)
    if "\x00" in text:
        fail("the path holds a NUL byte")
    bad = next((c for c in text if unicodedata.category(c) == "Cc"), None)
    if bad is not None:
        fail(f"the path holds a control character ({bad.encode('unicode_escape').decode()})")
    name_max = _pathconf(Path("/"), "PC_NAME_MAX", 255)
    for part in Path(os.path.abspath(text)).parts:  # before any stat: the OS refuses such names
        if len(os.fsencode(part)) > name_max:
            size = len(os.fsencode(part))
            fail(f"the name {shown(part[:24])}... is {size} bytes long; this file system allows {name_max}")
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python 3.11)
        fail(getattr(exc, "strerror", None) or str(exc))
    path_max = _pathconf(Path("/"), "PC_PATH_MAX", 4096)
    if len(os.fsencode(real)) > path_max - ROOM:
        fail(f"the path is {len(os.fsencode(real))} bytes long; keep it under {path_max - ROOM}")
    return real


def _pathconf(path: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(path if path.is_dir() else path.parent, name)
    except (OSError, ValueError):
        return default


def _creatable(real: Path, fail) -> None:
    """Everything above ``real`` that exists is a writable directory."""
    above = next((p for p in real.parents if p.exists()), None)
    if above is None:
        return
    if not above.is_dir():
        fail(f"{shown(above)} is a file, not a directory")
    _writable(above, fail)


def _writable(directory: Path, fail) -> None:
    if not os.access(directory, os.W_OK | os.X_OK):
        fail(f"permission denied ({shown(directory)} is not writable)")
