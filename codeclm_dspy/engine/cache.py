"""The request cache: answers shared across runs, keyed on the whole request.

DSPy's own cache keys on the model string and the messages, so two servers
that serve a model under the same name (a vLLM box and a llama.cpp box, or
one server after a model swap) would share answers. The key here is the
endpoint, the model, the messages and every parameter that changes the
answer: sampling, response format, seed, and the rollout number a parse
retry uses to ask again. Keys are hashed, and nothing here ever sees the API
key or the headers, so the cache file holds no secret.

SQLite in WAL mode lets several runs (processes) share the file safely.
Answers are written by one batching thread (``engine/sqlite.py``) without
waiting: the run's own journal is what makes a run durable, the cache only
saves money, so a killed process may lose its last few cache entries. Its
directory is marked as codeclm's request cache (``out_paths``); a directory
of anything else is never written into.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from codeclm_dspy.engine.sqlite import BatchWriter, connect, unusable
from codeclm_dspy.out_paths import claim_dir, shown
from codeclm_dspy.secrets import scrub_model_text

# Request fields that change how a request travels, never what it answers.
TRANSPORT = frozenset({"api_key", "timeout", "num_retries", "headers", "extra_headers", "metadata"})


def request_key(model: str, api_base: str | None, messages: list[dict[str, Any]], params: dict) -> str:
    """A stable hash of everything that decides the answer to a request."""
    payload = {
        "model": model,
        "api_base": (api_base or "").rstrip("/"),
        "messages": messages,
        "params": {k: v for k, v in sorted(params.items()) if k not in TRANSPORT},
    }
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class RequestCache:
    """Answers by request key, in one SQLite file shared by every run."""

    def __init__(self, path: Path):
        """Open (or start) the cache at ``path``.

        Raises:
            RunDirError: its directory is not a codeclm cache (see
                ``out_paths``) or the file is not a SQLite database.
        """
        self.path = Path(path)
        self._lock = threading.Lock()
        claim_dir(self.path.parent, "cache", what="the request cache directory")
        self._conn = connect(self.path, "the request cache")
        try:
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, response TEXT NOT NULL, created REAL)"
            )
        except sqlite3.Error as exc:
            self._conn.close()
            raise unusable(self.path, f"cannot use {shown(self.path)} as the request cache", exc) from None
        self._writer = BatchWriter(
            connect(self.path, "the request cache"), f"the request cache {shown(self.path)}"
        )

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT response FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, response: dict[str, Any]) -> None:
        """Queue an answer for the cache (not waited for: see the module docstring)."""
        blob = scrub_model_text(json.dumps(response, ensure_ascii=False))
        sql = "INSERT OR IGNORE INTO answers (key, response, created) VALUES (?, ?, ?)"
        self._writer.submit(sql, (key, blob, time.time()))

    def close(self) -> None:
        """Commit the queued answers, then close (idempotent)."""
        self._writer.close()
        with self._lock:
            self._conn.close()
