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
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import CodecLMError
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
    """A directory the report cannot read: not one codeclm writes, or a damaged file in it."""


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
    try:
        marked = json.loads((path / MARKER).read_text(encoding="utf-8")).get("codeclm")
    except (OSError, ValueError, AttributeError):
        marked = None
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


def read_json(path: Path, default: Any = None) -> Any:
    """A JSON file's value, or ``default`` when it is absent.

    Raises:
        ReportError: it exists but cannot be read or parsed.
    """
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read {shown(path)}: {exc}") from None


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file, one per line (none when it is absent).

    Raises:
        ReportError: a line is not a JSON object (the message names it).
    """
    if not path.exists():
        return
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise ReportError(f"{shown(path)}, line {number}: not JSON ({exc})") from None
                if not isinstance(row, dict):
                    raise ReportError(f"{shown(path)}, line {number}: not a JSON object")
                yield row
    except OSError as exc:
        raise ReportError(f"cannot read {shown(path)}: {exc.strerror or exc}") from None


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of a query on a SQLite file opened read-only ([] when the file or table is absent).

    Read-only, so a report of a run in progress never takes its writer's lock
    or changes its journal.
    """
    if not path.is_file():
        return []
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(sql, params).fetchall()
    except sqlite3.Error:
        return []  # no such table (an older file), or not readable: the report says less, not nothing


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
