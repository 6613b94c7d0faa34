"""Reading the directories codeclm writes, for the report: which kind, and their files.

The report reads output files only (it never imports ``evals`` or
``optimizers``, which sit above the core): manifest.json, the JSONL rows,
PNG charts, and SQLite files opened read-only. A directory's kind comes
from its ``.codeclm`` marker, or, for one written before markers existed,
from the files it holds; ``out_paths.check_dir`` then confirms it is ours
before anything is written into it.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import CodecLMError
from codeclm_dspy.files import parse_json, read_text
from codeclm_dspy.out_paths import KINDS, MARKER, shown
from codeclm_dspy.secrets import register

# the file that tells each kind apart when there is no marker, in the order they are tried
SIGNS = (
    ("crr", "verdicts.jsonl"),
    ("program", "program.json"),
    ("run", "kept.jsonl"),
    ("comparison", "comparison.json"),
    ("sweep", "study.db"),
    ("sweep", "trials"),
)
REPORTED = ("run", "crr", "program", "comparison", "sweep")


class ReportError(CodecLMError):
    """A directory the report cannot read: not one codeclm writes, or a damaged file in it.

    Exit 2, as for any bad input: exit 1 is kept for a ``--push-to-hub`` that
    failed after a complete run, so a script can tell the two apart.
    """

    exit_code = 2


def kind_of(path: Path) -> str:
    """The kind of directory ``path`` is (``run``, ``crr``, ``program``, ``comparison``, ``sweep``).

    Raises:
        ReportError: it is missing, not a directory, or none of these.
    """
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise ReportError(
            f"{shown(path)} {what}; give a directory codeclm wrote (a run, eval, compile or sweep)"
        )
    marked = _marker(path / MARKER)
    if marked in REPORTED:
        return marked
    if marked in KINDS:
        raise ReportError(f"{shown(path)} is a codeclm {KINDS[marked].noun}; it has nothing to report")
    found = next((kind for kind, name in SIGNS if (path / name).exists()), None)
    if found is None:
        raise ReportError(
            f"{shown(path)} is not a directory codeclm wrote: it has no .codeclm marker and none of "
            "kept.jsonl, verdicts.jsonl, program.json, comparison.json or study.db"
        )
    return found


def _marker(path: Path) -> str | None:
    """The kind a ``.codeclm`` marker names, or None when it is absent or damaged.

    A damaged marker is not an error here: the files then decide the kind, and
    ``out_paths.check_dir`` still refuses to write into a directory not ours.
    """
    try:
        marked = parse_json(read_text(path, "marker", ReportError), path, 1, ReportError)
    except ReportError:
        return None
    value = marked.get("codeclm") if isinstance(marked, dict) else None
    return value if isinstance(value, str) else None


def read_json(path: Path, default: Any = None) -> Any:
    """A JSON file's value, or ``default`` when it is absent.

    Read through the shared reader (``codeclm_dspy.files``), so a file that is
    not UTF-8, nests too deep or does not parse is named with its line and
    column instead of crashing the report.

    Raises:
        ReportError: it exists but cannot be read or parsed.
    """
    if not path.exists():
        return default
    return parse_json(_text(path), shown(path), 1, ReportError)


def read_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, row)`` for each JSON object of a JSONL file (none when it is absent).

    ``where`` names the file and line (``.../kept.jsonl line 3``), so a caller
    that finds a field of the wrong type can say where it is. Rows are not
    checked for control characters as input files are: a model's answer may
    hold one, and the report shows what the run kept.

    Raises:
        ReportError: the file is not UTF-8 text, or a line is not a JSON object.
    """
    if not path.exists():
        return
    for number, line in enumerate(_text(path).split("\n"), 1):
        if not line.strip():
            continue
        row = parse_json(line, shown(path), number, ReportError)
        if not isinstance(row, dict):
            raise ReportError(f"{shown(path)} line {number}: not a JSON object but {kind_name(row)}")
        yield f"{shown(path)} line {number}", row


def _text(path: Path) -> str:
    """The file's text from the shared reader, its path shown on one line in any message."""
    try:
        return read_text(path, "file", ReportError)
    except ReportError as exc:
        raise ReportError(str(exc).replace(str(path), shown(path))) from None


def kind_name(value: Any) -> str:
    """What a JSON value is, in the words a message uses (``a list``, ``text``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def obj(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, ``{}`` if it is absent (null).

    The files the report reads may be edited by hand; a field of another type
    is named here rather than met later as an AttributeError.

    Raises:
        ReportError: it is something else (the message says ``where``).
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ReportError(f"{where}: expected an object, found {kind_name(value)}")
    return value


def seq(value: Any, where: str, of: type | tuple[type, ...] | None = None) -> list[Any]:
    """``value`` if it is a JSON list (of ``of`` items, when given), ``[]`` if it is absent.

    Raises:
        ReportError: it or one of its items is something else.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise ReportError(f"{where}: expected a list, found {kind_name(value)}")
    kinds = of if isinstance(of, tuple) else (of,)
    for n, item in enumerate(value, 1):
        if of is not None and (not isinstance(item, of) or isinstance(item, bool)):
            wanted = " or ".join(kind_name(k()) for k in kinds)
            raise ReportError(f"{where}: item {n} is {kind_name(item)}; expected {wanted}")
    return value


def text(value: Any, where: str) -> str | None:
    """``value`` if it is text (or absent: None).

    Raises:
        ReportError: it is something else.
    """
    if value is not None and not isinstance(value, str):
        raise ReportError(f"{where}: expected text, found {kind_name(value)}")
    return value


def models(manifest: dict[str, Any], where: str) -> dict[str, Any]:
    """Each role's model name, from a manifest's ``models`` (checked: it may be hand-edited)."""
    roles = obj(manifest.get("models"), f"{where}, field 'models'")
    return {role: obj(m, f"{where}, field 'models.{role}'").get("model") for role, m in roles.items()}


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of a query on a SQLite file opened read-only ([] when the file or table is absent).

    Read-only, so a report of a run in progress never takes its writer's lock
    or changes its journal. The URI is built by ``as_uri``, which
    percent-encodes the path: a ``#`` or ``?`` in a directory name would
    otherwise end the file name, and SQLite would create a file there and read
    nothing from the real one.

    Raises:
        ReportError: the file is there but is not a SQLite database or cannot be opened.
    """
    if not path.is_file():
        return []
    try:
        uri = f"{path.resolve().as_uri()}?mode=ro"
    except (OSError, RuntimeError, ValueError) as exc:
        raise ReportError(f"cannot open {shown(path)}: {exc}") from None
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=5)) as conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if str(exc).startswith(("no such table", "no such column")):
            return []  # a file from an older version: the report says less, not nothing
        raise ReportError(f"cannot read {shown(path)}: {exc}") from None
    except sqlite3.Error as exc:
        raise ReportError(f"cannot read {shown(path)}: {exc}") from None


def png(path: Path) -> dict[str, str] | None:
    """A PNG as a data URI, so the report needs no file beside it."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(b"\x89PNG"):
        return None
    return {
        "name": path.stem.replace("_", " "),
        "src": "data:image/png;base64," + base64.b64encode(data).decode(),
    }


def register_keys(manifest: Any) -> None:
    """Mask the keys the run's config names (its ``api_key_env`` variables) in the report.

    The run scrubbed them when it wrote its files; a report made in another
    process knows no key until told, so rows written by an older version, or a
    key quoted back in an unexpected form, are masked here too.
    """
    if isinstance(manifest, dict):
        for key, value in manifest.items():
            if key == "api_key_env" and isinstance(value, str):
                register(os.environ.get(value))
            else:
                register_keys(value)
    elif isinstance(manifest, list):
        for value in manifest:
            register_keys(value)
