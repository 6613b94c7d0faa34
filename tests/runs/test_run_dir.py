"""``RunDir``: one writer at a time."""

import sqlite3

import pytest

from codeclm_dspy.errors import RunDirError
from codeclm_dspy.runs.run_dir import RunDir


def test_a_second_writer_of_one_run_is_refused_until_the_first_closes(tmp_path):
    # two processes on one --out each paid for every call (996 requests for a 498-call run)
    identity = {"config": {"method": "codeclm"}, "seeds": "abc"}
    first = RunDir(tmp_path / "run", identity)
    with pytest.raises(RunDirError, match="being written by another codeclm process"):
        RunDir(tmp_path / "run", identity)
    first.close()
    second = RunDir(tmp_path / "run", identity)  # free again, and resumable
    assert second.resumed and second.sessions == 2
    second.close()
    with pytest.raises(RunDirError, match="different"):
        RunDir(tmp_path / "run", {**identity, "seeds": "xyz"})
    RunDir(tmp_path / "run", identity).close()  # a refused resume let go of the lock


def test_a_damaged_state_is_refused_and_lets_go_of_the_lock(tmp_path):
    identity = {"config": {"method": "codeclm"}, "seeds": "abc"}
    RunDir(tmp_path / "run", identity).close()
    with sqlite3.connect(tmp_path / "run" / "state.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '\"two\"' WHERE key = 'sessions'")
    conn.close()
    with pytest.raises(RunDirError, match="is damaged: its meta 'sessions' is a string, not an integer"):
        RunDir(tmp_path / "run", identity)
    with sqlite3.connect(tmp_path / "run" / "state.sqlite") as conn:  # mended by hand
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'sessions'")
    conn.close()
    again = RunDir(tmp_path / "run", identity)  # not "being written by another codeclm process"
    assert again.sessions == 2
    again.close()
