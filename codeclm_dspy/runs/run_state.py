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
that write, never a torn line; lookups by key need no index held in memory,
so a 10,000-instruction run resumes without loading its history; and it is
in the standard library. kept.jsonl and rejected.jsonl are exported from
here, sorted by id, when the run ends or stops.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from codeclm_dspy.engine.cache import connect
from codeclm_dspy.errors import RunDirError
from codeclm_dspy.out_paths import shown
from codeclm_dspy.secrets import scrub

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
FINAL = ("kept", "rejected", "failed")


class RunState:
    """Thread-safe access to a run's ``state.sqlite``."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._conn = connect(path, "a run state")
        try:
            self._conn.executescript(SCHEMA)
        except sqlite3.Error as exc:  # connect() read it; a damaged file can still fail here
            self._conn.close()
            raise RunDirError(f"cannot use {shown(path)} as a run state: {exc}") from None

    # -- identity -------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (key, json.dumps(value, sort_keys=True)),
            )

    # -- the call journal -----------------------------------------------------
    def recorded_call(self, key: str) -> dict[str, Any] | None:
        """The answer recorded for a request key, if any."""
        with self._lock:
            row = self._conn.execute("SELECT response FROM calls WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

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
    ) -> None:
        usage = response.get("usage") or {}
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    role,
                    step,
                    model,
                    source,
                    scrub(json.dumps(response, ensure_ascii=False)),
                    int(usage.get("prompt_tokens") or 0),
                    int(usage.get("completion_tokens") or 0),
                    usd,
                    seconds,
                ),
            )

    def spent(self) -> dict[str, Any]:
        """Provider calls, tokens and USD recorded so far (for budgets)."""
        with self._lock:
            calls, tokens, usd, unpriced = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(usd), 0),"
                " SUM(usd IS NULL) FROM calls WHERE source = 'provider'"
            ).fetchone()
        return {"calls": calls, "tokens": tokens, "usd": usd, "unpriced_calls": unpriced or 0}

    def usage_rows(self) -> list[tuple]:
        """``(step, model, source, calls, prompt_tokens, completion_tokens, usd, unpriced)`` rows."""
        with self._lock:
            return self._conn.execute(
                "SELECT step, model, source, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens),"
                " COALESCE(SUM(usd), 0), SUM(usd IS NULL) FROM calls GROUP BY step, model, source"
            ).fetchall()

    # -- items ----------------------------------------------------------------
    def put_item(self, kind: str, item_id: str, status: str, stage: str, iteration: int, row: dict) -> None:
        """Record an item's latest state: ``running`` with its progress so far,
        or its outcome (kept, rejected, failed) with its output row."""
        blob = scrub(json.dumps(row, ensure_ascii=False))
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?)",
                (f"{kind}:{item_id}", kind, status, stage, iteration, blob, time.time()),
            )

    def drop_items_before(self, started: float) -> int:
        """Forget items no write reached since ``started``; return how many.

        A finished session has replayed every decision and rewritten every
        item it still has. An item left from an earlier session is one the
        run no longer reaches (a call that failed then succeeds on resume
        changes the path), and exporting it would put rows in the dataset
        that the counts do not know about.
        """
        with self._lock:
            return self._conn.execute("DELETE FROM items WHERE updated < ?", (started,)).rowcount

    def counts(self) -> dict[str, int]:
        """Items per status."""
        with self._lock:
            return dict(self._conn.execute("SELECT status, COUNT(*) FROM items GROUP BY status").fetchall())

    def export(self, path: Path, statuses: tuple[str, ...]) -> int:
        """Write the rows with these statuses to JSONL, sorted by id, atomically."""
        tmp = path.with_name(path.name + ".tmp")
        marks = ",".join("?" * len(statuses))
        written = 0
        with self._lock, tmp.open("w", encoding="utf-8") as handle:
            query = f"SELECT row FROM items WHERE status IN ({marks}) ORDER BY id"
            for (row,) in self._conn.execute(query, statuses):  # streamed, never all in memory
                handle.write(row + "\n")
                written += 1
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        return written

    def close(self) -> None:
        with self._lock:
            self._conn.close()
