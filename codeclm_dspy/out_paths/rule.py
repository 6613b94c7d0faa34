"""The ownership rule: whether an existing directory is ours, and of which kind.

A directory is ours when it carries the ``.codeclm`` marker of the kind
asked for and holds nothing but names that kind writes; one written before
markers existed is recognised by its own database (see ``_legacy``). Its
SQLite file, when present, must hold only tables codeclm writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from codeclm_dspy.out_paths.kinds import (
    KINDS,
    MARKER,
    RUN_TABLES,
    SQLITE_HEADER,
    STATE,
    kind_of_identity,
    leftover,
)


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


def _judge(real: Path, kind: str, fail) -> None:
    """Fail unless the existing directory ``real`` is empty or this kind's and ours."""
    names = sorted(n for n in os.listdir(real) if not leftover(n, kind))
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
