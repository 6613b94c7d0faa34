"""SQLite plumbing for the run journal and the request cache: connections and one batching writer.

Why a writer of our own: every answer is written before it is used, and with
one connection behind one lock, 32 to 128 threads queued on that lock for each
look-up and each commit (the engine benchmark spent most of a call's wall
time there). Here one thread owns the write connection and commits whatever
has queued up as one transaction (group commit), so a thousand writes cost a
few commits, and a caller that needs its write durable waits only for the
commit that carries it. Reads go through a second connection: in WAL mode
they never wait for a writer. The standard library has no such queue for
SQLite, and none of our dependencies offers one.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from concurrent.futures import Future
from contextlib import closing
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import JournalWriteFailed, RunDirError
from codeclm_dspy.out_paths import WITH_ROOM, no_room, shown

logger = logging.getLogger(__name__)

BATCH = 1024  # writes per transaction at most; a batch commits as soon as the queue is empty
_CLOSE = object()


def connect(path: Path, what: str) -> sqlite3.Connection:
    """A SQLite connection any thread may use (callers serialise with a lock or one thread).

    Raises:
        RunDirError: the file cannot be opened as a SQLite database (a
            directory, a file of something else, a path the OS refuses).
        JournalWriteFailed: the disk refused SQLite's first writes (see ``unusable``).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, isolation_level=None)
    except (OSError, ValueError, sqlite3.Error) as exc:
        raise unusable(path, f"cannot open {shown(path)} as {what}", exc) from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL keeps every committed write across a process crash (SIGKILL);
        # only a power cut can lose the last transactions, never corrupt the file.
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:  # "file is not a database"
        conn.close()
        raise unusable(path, f"cannot open {shown(path)} as {what}", exc) from None
    return conn


# SQLite's result codes for a write the disk refused: SQLITE_IOERR itself, SQLITE_FULL, and
# the IOERR codes of writing (WRITE, FSYNC, DIR_FSYNC, TRUNCATE, SHMSIZE). Not the others: a
# read, a lock, a delete (a directory where the -wal file goes) or a corrupt file system is
# not fixed by room, so they stay the path's problem.
_WRITE_REFUSED = frozenset({10, 13, 778, 1034, 1290, 1546, 4874})


def unusable(path: Path, refused: str, exc: BaseException) -> RunDirError | JournalWriteFailed:
    """The error for a SQLite file that could not be opened or set up: ``refused: why``.

    A disk that refuses writes (full, an I/O error) is a stop, exit 4, with
    what to do: nothing is wrong with the file or the command, and the same
    command with room again goes on. Anything else (not a database, a
    directory, a damaged file) is the path's fault: exit 2.
    """
    why = getattr(exc, "strerror", None) or exc
    if getattr(exc, "sqlite_errorcode", None) in _WRITE_REFUSED or no_room(exc):
        return JournalWriteFailed(f"cannot write {shown(path)} ({why}): {WITH_ROOM}")
    return RunDirError(f"{refused}: {why}")


def table_columns(conn: sqlite3.Connection, tables) -> dict[str, list[str]]:
    """The columns of each of ``tables`` in ``conn`` (none: it has no such table)."""
    return {t: [c[1] for c in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


def schema_columns(schema: str, tables) -> dict[str, list[str]]:
    """The columns ``schema`` makes for each of ``tables`` (what a file made by it must have)."""
    with closing(sqlite3.connect(":memory:")) as new:
        new.executescript(schema)
        return table_columns(new, tables)


def schema_gap(found: dict[str, list[str]], made: dict[str, list[str]], why: str = "") -> str | None:
    """The first table of ``made`` missing from ``found``, or its missing columns, in words (None: none)."""
    for table, columns in made.items():
        if not found[table]:
            return f"it has no {table} table{why}"
        if missing := [c for c in columns if c not in found[table]]:
            return f"its {table} table has no column {', '.join(missing)}"
    return None


class BatchWriter:
    """One thread that commits queued statements in order, many per transaction.

    Writes commit in the order they were queued, so a later write (an item's
    progress) never lands without the earlier ones it depends on (the calls
    that produced it): a killed process loses at most a suffix of the queue.

    Args:
        conn: the write connection; this writer owns it from now on.
        what: the file's role, for error messages ("the run journal").
        on_commit: called in the writer thread with the tags of each committed batch.
    """

    def __init__(self, conn: sqlite3.Connection, what: str, on_commit=None):
        self._conn, self._what, self._on_commit = conn, what, on_commit
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.failed: JournalWriteFailed | None = None
        self._told = False  # the failure reached a caller (raised by submit, or a waiter's future)
        self._thread = threading.Thread(target=self._run, name=f"codeclm-writer ({what})", daemon=True)
        self._thread.start()

    def submit(self, sql: str | None, params: tuple, tag: Any = None, durable: bool = False) -> Future | None:
        """Queue one statement; with ``durable``, return a future done once it is committed.

        The future fails with ``JournalWriteFailed`` if the commit does.

        Raises:
            JournalWriteFailed: an earlier write could not be committed.
        """
        if self.failed is not None:
            self._told = True
            raise self.failed
        done: Future | None = Future() if durable else None
        self._queue.put((sql, params, tag, done))
        return done

    def flush(self) -> None:
        """Return once everything queued so far is committed (raises as ``submit`` does)."""
        self.submit(None, (), durable=True).result()  # an empty write: its commit follows the rest

    def close(self) -> None:
        """Commit what is queued, stop the thread and close the connection.

        A failed write no caller was told of (nothing waited for it, nothing was
        queued after it) is logged here as a warning, so it is never silent.
        """
        if self._thread.is_alive():
            self._queue.put(_CLOSE)
            self._thread.join()
        self._conn.close()
        if self.failed is not None and not self._told:  # writes nobody waited for (the request cache)
            logger.warning("%s", self.failed)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            closing = _CLOSE in batch
            writes = [w for w in batch if w is not _CLOSE]
            self._commit(writes)
            if closing:
                return

    def _commit(self, writes: list[tuple]) -> None:
        error = self.failed
        if error is None:
            try:
                self._conn.execute("BEGIN")
                for sql, params, _, _ in writes:
                    if sql is not None:
                        self._conn.execute(sql, params)
                self._conn.execute("COMMIT")
                if self._on_commit is not None:
                    self._on_commit([tag for _, _, tag, _ in writes if tag is not None])
            except Exception as exc:  # anything: a dead writer would leave its waiters hanging
                # debug, not error: a caller gets it (submit raises it, a waiter's future
                # holds it, or close warns of it), and the run prints it once
                logger.debug("writing %s failed: %s", self._what, exc)
                error = self.failed = JournalWriteFailed(
                    f"cannot write {self._what} ({exc}); what was committed before is saved: "
                    "fix the cause (disk space, permissions) and run the same command again to resume"
                )
                self._rollback()
        for _, _, _, done in writes:
            if done is not None:
                if error is None:
                    done.set_result(None)
                else:
                    self._told = True
                    done.set_exception(error)

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            logger.debug("rolling back %s failed: %s", self._what, exc)  # the write's error says it
