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
