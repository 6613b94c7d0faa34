"""A batch run's durable record: its batches and their requests, in the run's ``state.sqlite``.

Two tables beside the journal (``run_state.py``), written through a
connection of their own (a few writes per batch, each committed at once):

- ``batches``: one row per batch we meant to submit: our id, round, role,
  model, our status (``submitting`` -> ``submitted`` -> ``done``, or
  ``abandoned``), the provider's status and ids, counts and times.
- ``batch_requests``: which request keys a batch carries, with each key's
  step and outcome there (``waiting``, ``answered``, ``failed`` and why).

The order of writes is what keeps a request from going out twice: the row
and its keys are committed *before* the file is uploaded, the file id once
it is, the provider's batch id as soon as the provider returns it. A row
left ``submitting`` by a killed process is resolved on resume by listing
the provider's batches for our id (``metadata.codeclm_batch``); only if the
provider does not list it is the row abandoned and its requests left to the
replay, which asks for them again. The one window that can send a request
twice: the provider created the batch but the process died before the
answer arrived *and* the provider's listing does not show it (yet).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from codeclm_dspy.engine.sqlite import connect, schema_columns, schema_gap, table_columns

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY, round INTEGER, role TEXT, model TEXT, status TEXT, provider_status TEXT,
    provider_id TEXT, file_id TEXT, requests INTEGER, answered INTEGER, failed INTEGER,
    created REAL, submitted REAL, finished REAL
);
CREATE TABLE IF NOT EXISTS batch_requests (
    key TEXT, batch TEXT, step TEXT, outcome TEXT, error TEXT, PRIMARY KEY (key, batch)
);
"""
IN_FLIGHT = ("submitting", "submitted")
TABLES = ("batches", "batch_requests")


COLUMNS = schema_columns(SCHEMA, TABLES)  # what a batch run's state file must have


def damage(conn: sqlite3.Connection) -> str | None:
    """What makes a state file's batch tables unusable (None: nothing), read before any write.

    ``run_state.damage`` asks this once the journal's own tables are sound.
    The batch tables are what tells a resume which requests a provider holds
    already: dropped, they would be made again empty and every batch in
    flight submitted (and paid for) a second time. A run that never batched
    has neither table and no ``batch_tag`` in its meta.
    """
    found = table_columns(conn, TABLES)
    batched = conn.execute("SELECT 1 FROM meta WHERE key = 'batch_tag'").fetchone() is not None
    if not batched and not any(found.values()):
        return None  # an online run
    return schema_gap(found, COLUMNS, ", though the run sent batches")


class BatchStore:
    """The batch tables of one run's state file."""

    def __init__(self, path: Path):
        self._conn = connect(path, "a run state")
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def _write(self, sql: str, rows: list[tuple] | tuple) -> None:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                if isinstance(rows, list):
                    self._conn.executemany(sql, rows)
                else:
                    self._conn.execute(sql, rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            self._conn.row_factory = sqlite3.Row
            return self._conn.execute(sql, params).fetchall()

    def intend(self, ours: str, round_: int, role: str, model: str, requests: list[tuple[str, str]]) -> None:
        """Record a batch about to be submitted, with its ``(key, step)`` requests, before anything is sent."""
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, 'submitting', NULL, NULL, NULL, ?, 0, 0, ?, NULL, NULL)",
                (ours, round_, role, model, len(requests), time.time()),
            )
            self._conn.executemany(
                "INSERT INTO batch_requests VALUES (?, ?, ?, 'waiting', NULL)",
                [(key, ours, step) for key, step in requests],
            )
            self._conn.execute("COMMIT")

    def uploaded(self, ours: str, file_id: str) -> None:
        self._write("UPDATE batches SET file_id = ? WHERE id = ?", (file_id, ours))

    def submitted(self, ours: str, provider_id: str) -> None:
        self._write(
            "UPDATE batches SET status = 'submitted', provider_id = ?, submitted = COALESCE(submitted, ?) "
            "WHERE id = ?",
            (provider_id, time.time(), ours),
        )

    def abandon(self, ours: str) -> None:
        """A batch the provider never created: its requests go back to the replay."""
        self._write("UPDATE batches SET status = 'abandoned', finished = ? WHERE id = ?", (time.time(), ours))

    def polled(self, ours: str, provider_status: str) -> None:
        self._write("UPDATE batches SET provider_status = ? WHERE id = ?", (provider_status, ours))

    def finish(self, ours: str, provider_status: str, failed: dict[str, str], answered: list[str]) -> None:
        """Mark a batch done with its lines' outcomes (after its answers are in the journal)."""
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "UPDATE batch_requests SET outcome = 'failed', error = ? WHERE key = ? AND batch = ?",
                [(error, key, ours) for key, error in failed.items()],
            )
            self._conn.executemany(
                "UPDATE batch_requests SET outcome = 'answered' WHERE key = ? AND batch = ?",
                [(key, ours) for key in answered],
            )
            self._conn.execute(
                "UPDATE batches SET status = 'done', provider_status = ?, answered = ?, failed = ?, finished = ? "
                "WHERE id = ?",
                (provider_status, len(answered), len(failed), time.time(), ours),
            )
            self._conn.execute("COMMIT")

    def in_flight(self) -> list[sqlite3.Row]:
        """Batches submitted (or about to be) and not yet done, oldest first."""
        return self._rows(
            "SELECT * FROM batches WHERE status IN ('submitting', 'submitted') ORDER BY created"
        )

    def requests_of(self, ours: str) -> list[sqlite3.Row]:
        return self._rows("SELECT key, step FROM batch_requests WHERE batch = ? ORDER BY rowid", (ours,))

    def failures(self) -> dict[str, tuple[int, str]]:
        """Request key -> (failed lines so far, the last error), for keys never answered."""
        rows = self._rows(
            "SELECT key, COUNT(*) AS n, MAX(error) AS error FROM batch_requests WHERE outcome = 'failed' "
            "AND key NOT IN (SELECT key FROM batch_requests WHERE outcome = 'answered') GROUP BY key"
        )
        return {row["key"]: (row["n"], row["error"]) for row in rows}

    def rounds(self) -> int:
        rows = self._rows("SELECT COALESCE(MAX(round), 0) AS n FROM batches")
        return int(rows[0]["n"])

    def report(self) -> dict[str, Any]:
        """The batch part of the manifest: rounds, batches by status, lines answered and failed."""
        rows = self._rows("SELECT status, provider_status, requests, answered, failed FROM batches")
        statuses: dict[str, int] = {}
        for row in rows:
            name = row["provider_status"] if row["status"] == "done" else row["status"]
            statuses[name] = statuses.get(name, 0) + 1
        return {
            "rounds": self.rounds(),
            "batches": len(rows),
            "batches_by_status": dict(sorted(statuses.items())),
            "lines_sent": sum(r["requests"] for r in rows if r["status"] != "abandoned"),
            "lines_answered": sum(r["answered"] or 0 for r in rows),
            "lines_failed": sum(r["failed"] or 0 for r in rows),
        }

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def read_only(path: Path) -> sqlite3.Connection | None:
    """A read-only connection to a run's state file (for ``codeclm status``), or None if absent."""
    if not path.exists():
        return None
    # as_uri percent-encodes the path: a raw "#" or "?" in it would end SQLite's file name
    # there, and mode=ro would then apply to (and create) a file the user never named
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn
