"""What callers call: check a directory or file before work starts, claim it, replace a file.

``check_dir`` and ``check_file`` write nothing, so the CLI runs them first and
a bad ``--out`` fails before any model is called; ``claim_dir`` checks again,
then creates the directory and writes its marker.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

from codeclm_dspy.errors import OutputWriteFailed, RunDirError
from codeclm_dspy.out_paths.atomic import WITH_ROOM, atomic_write, no_room
from codeclm_dspy.out_paths.kinds import MARKER
from codeclm_dspy.out_paths.paths import _creatable, _failing, _resolved, _writable, shown
from codeclm_dspy.out_paths.rule import _judge, _marker


def check_dir(path: str | Path, kind: str, what: str = "--out") -> Path:
    """Check, writing nothing, that ``path`` can be this kind's directory; return it resolved.

    Raises:
        RunDirError: the path is unusable or belongs to someone else.
    """
    path = Path(path)
    real = _resolved(path, what)
    fail = _failing(path, what)
    try:
        if real.exists():
            if not real.is_dir():
                fail("it is a file, not a directory")
            _judge(real, kind, fail)
            _writable(real, fail)
        else:
            _creatable(real, fail)
    except OSError as exc:
        fail(exc.strerror or str(exc))
    return real


def claim_dir(path: str | Path, kind: str, what: str = "output directory") -> Path:
    """``check_dir``, then create the directory and mark it as ours; return it resolved."""
    real = check_dir(path, kind, what)
    tmp = real / f"{MARKER}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        real.mkdir(parents=True, exist_ok=True)
        if _marker(real) != kind:
            tmp.write_text(json.dumps({"codeclm": kind}) + "\n", encoding="utf-8")
            os.replace(tmp, real / MARKER)
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # a full disk: leave nothing half written behind
        if no_room(exc):
            raise OutputWriteFailed(
                f"cannot write to {what} {shown(Path(path))} ({exc.strerror or exc}): {WITH_ROOM}"
            ) from None
        _failing(Path(path), what)(exc.strerror or str(exc))
    return real


def check_file(path: str | Path, what: str, accept: Callable[[Path], str | None] | None = None) -> Path:
    """Check, writing nothing, that ``path`` can be written as a file; return it resolved.

    Args:
        accept: for an existing file, the reason it may not be replaced
            (None: it may), e.g. it was not written by codeclm.
    """
    path = Path(path)
    real = _resolved(path, what)
    fail = _failing(path, what)
    try:
        if real.is_dir():
            fail("it is a directory, not a file")
        if real.exists():
            if not real.is_file():
                fail("it is not a regular file")
            problem = accept(real) if accept else None
            if problem:
                fail(problem)
            _writable(real.parent, fail)
        else:
            _creatable(real, fail)
    except OSError as exc:
        fail(exc.strerror or str(exc))
    return real


def replace_file(path: Path, text: str) -> None:
    """Write ``path`` whole (``atomic_write``), creating its directory.

    Raises:
        OutputWriteFailed: the disk refused the write (``no_room``): a stop, exit 4.
        RunDirError: anything else (a lost permission, a name too long for its temp file).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            handle.write(text)
    except OSError as exc:
        if no_room(exc):
            raise OutputWriteFailed(f"cannot write {shown(path)} ({exc.strerror or exc})") from None
        raise RunDirError(f"cannot write to {shown(path)}: {exc.strerror or exc}") from None
