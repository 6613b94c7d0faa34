"""The durable state of one run: ``state.sqlite`` in the run directory.

Two tables make a run resumable exactly:

- ``calls``: the journal. Every answer the run received (from a provider or
  from the shared cache) is recorded under its request key the moment it
  arrives. A resumed run replays the pipeline from the start with the same
  seed; every call already in the journal is answered from it, so only the
  calls that never completed are sent again, and the replay takes the same
  decisions as the first attempt. A finished run run again makes no call.
- ``items``: every seed, metadata and instruction, with its progress (an
  instruction is updated after each Contrastive Filtering round) and, once
  finished, its outcome row (kept, rejected or failed).

Why SQLite rather than append-only JSONL: each write is one transaction, so
a process killed mid-write (SIGKILL, OOM) leaves the file as it was before
that write, never a torn line; and it is in the standard library.
kept.jsonl and rejected.jsonl are exported from here, sorted by id, when the
run ends or stops.

Off the hot path (``engine/sqlite.py``): one writer thread commits queued
writes in batches, in order. Recording an answer waits for the commit that
carries it, so an answer is durable before any item uses it and a resumed
run never pays for a call twice. Item progress is queued without waiting: a
killed process can lose the last item updates, never a call they depend on,
and the replay on resume rewrites them. A look-up of a key this run has not
seen costs no query: the keys in the journal are held in memory as 64-bit
prefixes (``key_index.py``: 8 bytes a call), and only a prefix hit reads the file.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from codeclm_dspy.engine.sqlite import (
    BatchWriter,
    connect,
    schema_columns,
    schema_gap,
    table_columns,
    unusable,
)
from codeclm_dspy.errors import JournalWriteFailed, RunDirError
from codeclm_dspy.key_index import KeyIndex
from codeclm_dspy.out_paths import atomic_write, shown
from codeclm_dspy.runs.batch_store import damage as batch_tables_damage
from codeclm_dspy.secrets import scrub_model_text

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY, role TEXT, step TEXT, model TEXT, source TEXT,
    response TEXT NOT NULL, prompt_tokens INTEGER, completion_tokens INTEGER, usd REAL, seconds REAL
);
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY, kind TEXT, status TEXT, stage TEXT, iteration INTEGER,
    row TEXT NOT NULL, updated REAL
);
"""
# A kept item's whole trajectory, beside its row (same id, this kind and status): read by
# `codeclm report`, never exported, not counted as an item.
TRAJECTORY = "trajectory"
# An item's progress never replaces an outcome (kept, rejected, failed) an earlier session
# recorded: a finished run run again replays every item, and stopped midway it exported fewer
# rows than it had. The replay's own outcome replaces the earlier one when it comes.
PROGRESS = (
    "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, "
    "status = excluded.status, stage = excluded.stage, iteration = excluded.iteration, "
    "row = excluded.row, updated = excluded.updated WHERE items.status NOT IN ('kept', 'rejected', 'failed')"
)
# table: (its key column, its JSON column); an answer and an item's row are objects (``damage``)
JSON_COLUMNS = {"meta": ("key", "value"), "calls": ("key", "response"), "items": ("id", "row")}
JSON_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number"}


COLUMNS = schema_columns(SCHEMA, JSON_COLUMNS)  # what a state file must have


def damage(conn: sqlite3.Connection) -> str | None:
    """What makes an existing state file unusable (None: nothing, or a new file), read before any write.

    A resume trusts the file: each answer in ``calls`` is replayed instead of
    paid for, and ``meta`` holds the identity the resume must match. So a file
    edited by hand, or damaged, is refused whole and named, rather than met
    row by row (a traceback, or an answer that is not JSON taken for an item's
    failure) or mended by creating a dropped table again (an empty ``calls``
    pays for every call again; an empty ``meta`` resumes with any config).
    Checked in SQLite (``json_valid``): no row is loaded into Python.
    """
    found = table_columns(conn, JSON_COLUMNS)
    if not any(found.values()):
        return None  # a new file: its tables are made in one transaction, so it has all or none
    if gap := schema_gap(found, COLUMNS):
        return gap
    for table, (key, column) in JSON_COLUMNS.items():
        what = "JSON" if table == "meta" else "a JSON object"
        valid = f"typeof({column}) = 'text' AND json_valid({column})"
        valid += "" if table == "meta" else f" AND substr({column}, 1, 1) = '{{'"
        bad = conn.execute(f"SELECT {key} FROM {table} WHERE NOT ({valid}) LIMIT 1").fetchone()
        if bad:
            return f"its {table} row {str(bad[0])[:80]!r} is not {what}"
    return batch_tables_damage(conn)


class RunState:
    """Thread-safe access to a run's ``state.sqlite``: reads on one connection, writes queued to another."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()  # the read connection
        self._conn = connect(path, "a run state")
        try:
            known = self._open()
        except BaseException:
            self._conn.close()
            raise
        self._known = known  # prefixes of the keys in the journal, committed or queued
        self._queued: dict[str, str] = {}  # key -> answer, until its commit lands
        self._writer = BatchWriter(connect(path, "a run state"), f"the run state {shown(path)}", self._landed)

    def _landed(self, keys: list[str]) -> None:
        for key in keys:
            self._queued.pop(key, None)

    def _open(self) -> KeyIndex:
        """Check an existing file (``damage``), make the tables of a new one; the journal's keys.

        Raises:
            RunDirError: the file is damaged or unreadable; nothing was written to it.
            JournalWriteFailed: the disk refused the new tables (a full disk).
        """
        try:
            problem = damage(self._conn)
            if problem is None:
                self._conn.executescript(f"BEGIN; {SCHEMA} COMMIT;")  # all tables or none (``damage``)
                return KeyIndex(key for (key,) in self._conn.execute("SELECT key FROM calls ORDER BY key"))
        except (sqlite3.Error, ValueError) as exc:  # connect() read it; a damaged file can still fail here
            raise unusable(self.path, f"cannot use {shown(self.path)} as a run state", exc) from None
        raise RunDirError(
            f"{shown(self.path)} is damaged: {problem}; it was left as it is: restore it from a copy, "
            "or start again with a new --out"
        )

    def _settle(self) -> None:
        """Wait for every queued write, unless writing failed (a full disk): then nothing queued
        will land and the run is stopping, so reads take what was committed (the stop still
        exports and counts what the run holds); ``flush`` tells whether all landed."""
        try:
            self._writer.flush()
        except JournalWriteFailed as exc:
            logger.debug("reading what %s committed: %s", shown(self.path), exc)

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a query, after every queued write has committed (see ``_settle``)."""
        self._settle()
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def flush(self) -> None:
        """Return once every queued write has committed.

        Raises:
            JournalWriteFailed: one could not be: the run cannot be called complete.
        """
        self._writer.flush()

    # -- identity -------------------------------------------------------------
    def get_meta(self, key: str, of: type = object) -> Any:
        """A value of the ``meta`` table (None when absent).

        Raises:
            RunDirError: it is not of type ``of`` (true and false are no ``int``): a hand-edited file.
        """
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        value = json.loads(rows[0][0]) if rows else None
        if value is None or of is object or (isinstance(value, of) and not isinstance(value, bool)):
            return value
        found = JSON_NAMES.get(type(value), "true or false")
        raise RunDirError(
            f"{shown(self.path)} is damaged: its meta {key!r} is {found}, not {JSON_NAMES[of]}; it was left "
            "as it is: restore it from a copy, or start again with a new --out"
        )

    def set_meta(self, key: str, value: Any) -> None:
        sql = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
        self._writer.submit(sql, (key, json.dumps(value, sort_keys=True)), durable=True).result()

    # -- the call journal -----------------------------------------------------
    def recorded_call(self, key: str) -> dict[str, Any] | None:
        """The answer recorded for a request key, if any."""
        if key not in self._known:
            return None  # the common case: a request this run never made
        queued = self._queued.get(key)
        if queued is None:
            with self._lock:
                row = self._conn.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
            # it may have landed between the two looks
            queued = row[0] if row else self._queued.get(key)
        return json.loads(queued) if queued is not None else None

    def record_call(
        self,
        key: str,
        *,
        role: str,
        step: str,
        model: str,
        source: str,
        response: dict,
        usd: float | None,
        seconds: float,
    ) -> Future:
        """Journal an answer; the future is done once it is committed (the engine waits for it).

        Raises:
            JournalWriteFailed: the file cannot be written (the run stops);
                the future fails with it if the commit does.
        """
        usage = response.get("usage") or {}
        blob = scrub_model_text(json.dumps(response, ensure_ascii=False))
        row = (key, role, step, model, source, blob)
        tokens = (int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))
        self._queued[key] = blob
        self._known.add(key)
        sql = "INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        return self._writer.submit(sql, (*row, *tokens, usd, seconds), tag=key, durable=True)

    def spent(self) -> dict[str, Any]:
        """Provider calls, tokens and USD recorded so far (for budgets)."""
        ((calls, tokens, usd, unpriced),) = self._read(
            "SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(usd), 0),"
            " SUM(usd IS NULL) FROM calls WHERE source = 'provider'"
        )
        return {"calls": calls, "tokens": tokens, "usd": usd, "unpriced_calls": unpriced or 0}

    def usage_rows(self) -> list[tuple]:
        """``(step, model, source, calls, prompt_tokens, completion_tokens, usd, unpriced, estimated)`` rows."""
        return self._read(
            "SELECT step, model, source, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), COALESCE(SUM(usd), 0),"
            " SUM(usd IS NULL), COUNT(json_extract(response, '$.usage.estimated')) FROM calls GROUP BY step, model, source"
        )

    # -- items ----------------------------------------------------------------
    def put_item(self, kind: str, item_id: str, status: str, stage: str, iteration: int, row: dict) -> None:
        """Record an item's latest state: ``running`` with its progress so far
        (not over an earlier outcome: ``PROGRESS``), or its outcome
        (kept, rejected, failed) with its output row.

        Queued, not waited for: it commits after every call journaled before it.
        """
        blob = scrub_model_text(json.dumps(row, ensure_ascii=False))  # errors were scrubbed as written
        params = (f"{kind}:{item_id}", kind, status, stage, iteration, blob, time.time())
        sql = PROGRESS if status == "running" else "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?)"
        self._writer.submit(sql, params)

    def drop_items_before(self, started: float) -> int:
        """Forget items no write reached since ``started``; return how many.

        A finished session has replayed every decision and rewritten every
        item it still has. An item left from an earlier session is one the
        run no longer reaches (a call that failed then succeeds on resume
        changes the path), and exporting it would put rows in the dataset
        that the counts do not know about.
        """
        ((stale,),) = self._read("SELECT COUNT(*) FROM items WHERE updated < ?", (started,))
        self._writer.submit("DELETE FROM items WHERE updated < ?", (started,), durable=True).result()
        return stale

    def counts(self) -> dict[str, int]:
        """Items per status."""
        query = "SELECT status, COUNT(*) FROM items WHERE kind != ? GROUP BY status"
        return dict(self._read(query, (TRAJECTORY,)))

    def export(self, path: Path, statuses: tuple[str, ...]) -> int:
        """Write the rows with these statuses to JSONL, sorted by id, atomically (see ``_settle``)."""
        self._settle()
        marks = ",".join("?" * len(statuses))
        written = 0
        with self._lock, atomic_write(path) as handle:
            query = f"SELECT row FROM items WHERE status IN ({marks}) ORDER BY id"
            for (row,) in self._conn.execute(query, statuses):  # streamed, never all in memory
                handle.write(row + "\n")
                written += 1
        return written

    def close(self) -> None:
        """Commit what is queued, then close both connections (idempotent)."""
        self._writer.close()
        with self._lock:
            self._conn.close()
