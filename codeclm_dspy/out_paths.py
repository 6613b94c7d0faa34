"""Where codeclm writes: one ownership rule for every output directory and file.

Every directory codeclm writes (a run, a CRR evaluation, a compiled program,
a benchmark split, a comparison, a sweep, the request cache) gets a small
marker, ``.codeclm``, naming its kind. An existing directory is written into
only when it is empty, or when it carries the marker of the same kind and
holds nothing but names that kind writes, so a folder of the user's is never
touched, whatever it holds; a symbolic link is judged by the directory it
points to. Directories written before markers existed are accepted when
their own database shows it (a run's state.sqlite with its tables and
identity, a sweep's Optuna tables, the cache's answers table) and hold only
our names; they get their marker then.

The checks here run before any work starts (the CLI calls ``check_dir`` and
``check_file`` first) and again when a directory is claimed, and each
problem is one ``RunDirError`` naming the path and what is wrong: a NUL or
control character, a name or path too long, a file where a directory should
be (or under one), no write permission, a database that is not ours.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import RunDirError

MARKER = ".codeclm"
STATE = "state.sqlite"
RUN_TABLES = frozenset({"meta", "calls", "items"})
SQLITE_HEADER = b"SQLite format 3\x00"
ROOM = 100  # bytes left in a path for what we write under it


def _sqlite(name: str) -> tuple[str, ...]:
    return (name, f"{name}-wal", f"{name}-shm", f"{name}-journal")


def _atomic(*names: str) -> tuple[str, ...]:
    """Files written through a temp file: ``name`` and ``name.tmp``."""
    return tuple(n for name in names for n in (name, f"{name}.tmp"))


@dataclass(frozen=True)
class Kind:
    noun: str  # "run directory": what the messages call it
    names: tuple[str, ...]  # everything that kind writes at its top level
    database: str | None = None  # its SQLite file, checked whenever present
    tables: frozenset[str] = frozenset()  # the tables that file may hold (empty: any)


# what each kind writes at its top level (compare --remove-contaminated adds its two files to a run)
RUN = _atomic(
    "kept.jsonl", "rejected.jsonl", "manifest.json", "kept.decontaminated.jsonl", "contamination.json"
)
CRR = _atomic("verdicts.jsonl", "failed.jsonl", "manifest.json")
KINDS = {
    "run": Kind("run directory", (*_sqlite(STATE), *RUN, "dataset"), STATE, RUN_TABLES),
    "crr": Kind("CRR evaluation directory", (*_sqlite(STATE), *CRR), STATE, RUN_TABLES),
    "program": Kind(
        "program directory",
        (*_sqlite(STATE), *_atomic("program.json", "manifest.json"), "optimizer-logs"),
        STATE,
        RUN_TABLES,
    ),
    "split": Kind("split directory", _atomic("seeds.jsonl", "heldout.jsonl")),
    "comparison": Kind("comparison directory", ("comparison.json", "comparison.md", "comparison.png")),
    "sweep": Kind("sweep directory", (*_sqlite("study.db"), "trials", "plots"), "study.db"),
    "cache": Kind(
        "request cache directory", _sqlite("requests.sqlite"), "requests.sqlite", frozenset({"answers"})
    ),
}


def shown(path: str | os.PathLike) -> str:
    """A path on one line: control characters (and undecodable bytes) escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in os.fspath(path))


def kind_of_identity(identity: dict[str, Any]) -> str:
    """The kind of a run-like directory from the identity its state keeps."""
    if identity.get("kind") == "crr":
        return "crr"
    return "program" if "compile" in (identity.get("config") or {}) else "run"


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
    try:
        real.mkdir(parents=True, exist_ok=True)
        if _marker(real) != kind:
            tmp = real / f"{MARKER}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_text(json.dumps({"codeclm": kind}) + "\n", encoding="utf-8")
            os.replace(tmp, real / MARKER)
    except OSError as exc:
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
    """Write ``path`` through a temp file and a rename: never half written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunDirError(f"cannot write to {shown(path)}: {exc.strerror or exc}") from None


def sqlite_problem(
    path: Path, tables: frozenset[str] = frozenset(), needs: frozenset[str] = frozenset()
) -> str | None:
    """Why ``path`` is not a SQLite file of ours (None: it is, or it is empty).

    Args:
        tables: the tables it may hold (empty: any).
        needs: the tables it must hold.
    """
    name = path.name
    if not path.is_file():
        return f"{name} is a directory, not a SQLite file" if path.is_dir() else f"{name} is not a file"
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_HEADER))
    if not head and not needs:
        return None  # SQLite takes an empty file as an empty database
    if head != SQLITE_HEADER:
        return f"{name} is {'empty' if not head else 'not a SQLite database'}"
    try:
        found = set(_query(path, "SELECT name FROM sqlite_master WHERE type = 'table'"))
    except sqlite3.Error as exc:
        return f"{name} cannot be read as a SQLite database ({exc})"
    if tables and not found <= tables:
        return f"{name} holds tables codeclm never writes ({', '.join(sorted(found - tables))})"
    if not needs <= found:
        return (
            f"{name} has none of codeclm's tables"
            if not found & needs
            else f"{name} lacks {', '.join(needs - found)}"
        )
    return None


# -- the rule -------------------------------------------------------------------


def _judge(real: Path, kind: str, fail) -> None:
    """Fail unless the existing directory ``real`` is empty or this kind's and ours."""
    names = sorted(os.listdir(real))
    if not names:
        return
    noun = KINDS[kind].noun
    foreign = [n for n in names if not _ours(n, kind)]
    marked = _marker(real)
    if marked is None and not foreign:
        marked, why = _legacy(real, names)
        if marked is None:
            fail(
                f"is not a codeclm {noun}: {why}; choose a new or empty directory so nothing there is overwritten"
            )
    if marked is not None and marked != kind:
        fail(f"is a codeclm {KINDS[marked].noun}, not a {noun}; choose a new or empty directory")
    if foreign:
        listing = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        fail(
            f"is not a codeclm {noun}: it holds {listing}, which a codeclm {noun} never holds; "
            "choose a new or empty directory so nothing there is overwritten"
        )
    database = KINDS[kind].database
    if database and database in names:
        problem = sqlite_problem(real / database, KINDS[kind].tables)
        if problem:
            fail(f"is not a usable codeclm {noun}: its {problem}")


def _ours(name: str, kind: str) -> bool:
    return name.startswith(MARKER) or name in KINDS[kind].names


def _marker(real: Path) -> str | None:
    try:
        found = json.loads((real / MARKER).read_text(encoding="utf-8")).get("codeclm")
    except (OSError, ValueError, AttributeError):
        return None
    return found if found in KINDS else None


def _legacy(real: Path, names: list[str]) -> tuple[str | None, str]:
    """The kind of an unmarked directory written before markers existed, from its own data."""
    no_marker = "it has no .codeclm marker"
    if STATE in names:
        problem = sqlite_problem(real / STATE, RUN_TABLES, RUN_TABLES)
        if problem:
            return None, f"{no_marker} and its {problem}"
        try:
            rows = _query(real / STATE, "SELECT value FROM meta WHERE key = 'identity'")
            return kind_of_identity(json.loads(rows[0])), ""
        except (sqlite3.Error, IndexError, ValueError, AttributeError):
            return None, f"{no_marker} and its {STATE} holds no run identity"
    for kind, needs in (("sweep", {"studies", "trials"}), ("cache", {"answers"})):
        database = KINDS[kind].database
        if database in names:
            problem = sqlite_problem(real / database, KINDS[kind].tables, frozenset(needs))
            return (kind, "") if problem is None else (None, f"{no_marker} and its {problem}")
    if "comparison.json" in names:
        try:
            report = json.loads((real / "comparison.json").read_text(encoding="utf-8"))
            if isinstance(report, dict) and {"rows", "settings"} <= set(report):
                return "comparison", ""
        except (OSError, ValueError):
            pass
    return None, f"{no_marker} and nothing in it shows codeclm wrote it"


def _query(path: Path, sql: str) -> list[Any]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    try:
        return [row[0] for row in conn.execute(sql)]
    finally:
        conn.close()


# -- the path itself --------------------------------------------------------------


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
