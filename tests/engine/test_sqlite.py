"""The journal's and the request cache's writer: a failed write is told once, never lost silently."""

import logging

import pytest

from codeclm_dspy.engine.sqlite import BatchWriter, connect
from codeclm_dspy.errors import JournalWriteFailed

LOGGER = "codeclm_dspy.engine.sqlite"


def writer(tmp_path) -> BatchWriter:
    return BatchWriter(connect(tmp_path / "file.sqlite", "a test file"), "the test file")


def test_a_failed_write_nobody_waited_for_is_a_warning_at_close(tmp_path, caplog):
    w = writer(tmp_path)
    w.submit("INSERT INTO missing VALUES (?)", (1,))  # as the request cache writes: no waiter
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        w.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "cannot write the test file (no such table: missing); what was committed before is saved: "
        "fix the cause (disk space, permissions) and run the same command again to resume"
    ]


def test_a_failed_write_a_caller_was_told_of_is_not_said_again(tmp_path, caplog):
    w = writer(tmp_path)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        done = w.submit("INSERT INTO missing VALUES (?)", (1,), durable=True)
        with pytest.raises(JournalWriteFailed, match="no such table: missing"):
            done.result()
        with pytest.raises(JournalWriteFailed):  # and every later write is refused with it
            w.submit("SELECT 1", ())
        w.close()
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_full_disk_while_a_file_is_set_up_is_a_stop_and_a_foreign_wal_is_the_path(tmp_path):
    """Only a write the disk refused is exit 4 ("free some space and run again"); SQLite's other
    I/O errors are not fixed by room: a directory where the -wal file goes stays exit 2."""
    import errno
    import sqlite3

    from codeclm_dspy.engine.sqlite import unusable
    from codeclm_dspy.errors import RunDirError
    from codeclm_dspy.runs.run_state import RunState

    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13
    assert isinstance(unusable(tmp_path / "s", "cannot use it", full), JournalWriteFailed)
    shm = sqlite3.OperationalError("disk I/O error")
    shm.sqlite_errorcode = 4874  # IOERR_SHMSIZE: what a file size limit gave at 4,096 bytes
    assert isinstance(unusable(tmp_path / "s", "cannot use it", shm), JournalWriteFailed)
    no_space = OSError(errno.ENOSPC, "No space left on device")
    assert isinstance(unusable(tmp_path / "s", "cannot open it", no_space), JournalWriteFailed)

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "state.sqlite-wal").mkdir()
    with pytest.raises(RunDirError, match=r"state\.sqlite"):
        RunState(tmp_path / "run" / "state.sqlite")
