"""``codeclm status RUN_DIR``: where a run stands, read without touching it.

A batch run can wait hours on its provider, in this process or after it was
stopped; this reads its ``state.sqlite`` (read-only, so it is safe while the
run is going) and its last manifest: the items by outcome, the calls paid
(batched or online), the batch rounds, and each batch in flight with its age,
its size and the provider's last word on it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

from codeclm_dspy.errors import RunDirError
from codeclm_dspy.runs.batch_store import read_only
from codeclm_dspy.runs.run_state import TRAJECTORY

logger = logging.getLogger(__name__)


def run_status(out: Path) -> str:
    """A few lines on the run in ``out``.

    Raises:
        RunDirError: ``out`` holds no run state.
    """
    try:
        conn = read_only(Path(out) / "state.sqlite")
    except (sqlite3.Error, ValueError) as exc:  # ValueError: a NUL in the path
        raise RunDirError(f"cannot open the run state in {out}: {exc}") from None
    if conn is None:
        raise RunDirError(f"{out} holds no run (no state.sqlite): give the --out of a `codeclm generate`")
    try:
        return "\n".join(_lines(Path(out), conn))
    except sqlite3.Error as exc:
        raise RunDirError(f"cannot read the run state in {out}: {exc}") from None
    finally:
        conn.close()


def _lines(out: Path, conn: sqlite3.Connection) -> list[str]:
    manifest = _manifest(out)
    head = f"run {out}: " + (
        f"{manifest.get('status', '?')} (last session ended {manifest.get('finished_at', '?')})"
        if manifest
        else "no manifest yet (a session running, killed, or unable to write it)"
    )
    # a kept pair's trajectory is a row of its own beside it: bookkeeping, not an item (run_state.py)
    query = "SELECT status, COUNT(*) FROM items WHERE kind != ? GROUP BY status"
    items = dict(conn.execute(query, (TRAJECTORY,)).fetchall())
    order = ("kept", "rejected", "failed", "running")
    shown = [f"{k} {items.pop(k)}" for k in order if k in items] + [f"{k} {v}" for k, v in items.items()]
    calls, usd, unpriced = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(usd), 0), COUNT(*) - COUNT(usd) FROM calls WHERE source = 'provider'"
    ).fetchone()
    # a model with no price is unknown, never free (engine/usage.py)
    spent = f"${usd:.4f}" if not unpriced else f"${usd:.4f} + {unpriced} calls of unknown price"
    spent = "price unknown" if unpriced and unpriced == calls else spent
    lines = [head, "items: " + (", ".join(shown) or "none yet"), f"paid calls: {calls} ({spent})"]
    if not _has(conn, "batches"):
        return [*lines, "batches: none (an online run)"]
    ((rounds, total, in_flight),) = conn.execute(
        "SELECT COALESCE(MAX(round), 0), COUNT(*), SUM(status IN ('submitting', 'submitted')) FROM batches"
    ).fetchall()
    answered = conn.execute("SELECT COUNT(*) FROM batch_requests WHERE outcome = 'answered'").fetchone()[0]
    failed = conn.execute("SELECT COUNT(*) FROM batch_requests WHERE outcome = 'failed'").fetchone()[0]
    lines.append(
        f"batch rounds: {rounds}; batches: {total} ({in_flight or 0} in flight); "
        f"lines answered {answered}, failed {failed}; online calls {calls - answered}"
    )
    now = time.time()
    waiting = 0
    for row in conn.execute(
        "SELECT id, round, role, status, provider_status, provider_id, requests, created, submitted "
        "FROM batches WHERE status IN ('submitting', 'submitted') ORDER BY created"
    ):
        waiting += row["requests"]
        since = row["submitted"] or row["created"]
        said = row["provider_status"] or ("not created yet" if row["provider_id"] is None else "submitted")
        lines.append(
            f"  in flight: {row['provider_id'] or row['id']} (round {row['round']}, {row['role']}): "
            f"{row['requests']} requests, {said}, {_age(now - since)} old"
        )
    lines.append(f"waiting: {waiting} requests in batches in flight")
    return lines


def _has(conn: sqlite3.Connection, table: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    return found.fetchone() is not None


def _manifest(out: Path) -> dict | None:
    """The manifest, or None when it is missing or not a JSON object (status reads, never judges)."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
