"""A hand-edited or damaged state.sqlite: one line naming it and what is wrong, exit 2, nothing changed.

Before, a resume met the damage where it happened to read: ``meta.identity``
not an object or not JSON, or ``sessions`` not a number, gave a traceback; a
journaled answer that was not JSON failed its seed and the run ended
"complete" and empty; a dropped ``calls`` table was created again empty, and
the run paid for every call a second time; a dropped ``meta`` table lost the
identity, so any config resumed the run.
"""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app


def edit(*statements: str):
    def damage(path):
        with sqlite3.connect(path) as conn:
            for statement in statements:
                conn.execute(statement)
        conn.close()

    return damage


def not_sqlite(path):
    path.write_bytes(b"my notes, saved over the run state by mistake\n" * 100)


DAMAGE = {  # what is done to the file -> what the message must say
    "identity is a list": (
        edit("UPDATE meta SET value = '[1, 2]' WHERE key = 'identity'"),
        "its meta 'identity' is a list, not an object",
    ),
    "identity is not JSON": (
        edit("UPDATE meta SET value = '{\"config\": ' WHERE key = 'identity'"),
        "its meta row 'identity' is not JSON",
    ),
    "sessions is text": (
        edit("UPDATE meta SET value = '\"two\"' WHERE key = 'sessions'"),
        "its meta 'sessions' is a string, not an integer",
    ),
    "started_at is a number": (
        edit("UPDATE meta SET value = '1764633600' WHERE key = 'started_at'"),
        "its meta 'started_at' is an integer, not a string",
    ),
    "an answer is not JSON": (
        edit("UPDATE calls SET response = 'the answer' WHERE rowid = (SELECT MIN(rowid) FROM calls)"),
        "its calls row",
    ),
    "an item is not JSON": (
        edit("UPDATE items SET row = '[' WHERE rowid = (SELECT MIN(rowid) FROM items)"),
        "its items row",
    ),
    "calls dropped": (edit("DROP TABLE calls"), "it has no calls table"),
    "items dropped": (edit("DROP TABLE items"), "it has no items table"),
    "meta dropped": (edit("DROP TABLE meta"), "it has no meta table"),
    "a column dropped": (edit("ALTER TABLE calls DROP COLUMN usd"), "its calls table has no column usd"),
    "not SQLite": (not_sqlite, "state.sqlite is not a SQLite database"),  # held before too
}


def invoke(*args: str):
    done = CliRunner().invoke(app, list(args))
    assert done.exc_info[0] is SystemExit and "Traceback" not in done.output, done.output
    return done


def contents(out) -> dict:
    """Every file of the run (the state as its rows, so a checkpoint is not a change)."""
    found = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and not path.name.startswith("state.sqlite"):
            found[str(path.relative_to(out))] = path.read_bytes()
    try:
        with sqlite3.connect(f"{(out / 'state.sqlite').as_uri()}?mode=ro", uri=True) as conn:
            found["state.sqlite"] = list(conn.iterdump())
        conn.close()
    except sqlite3.DatabaseError:
        found["state.sqlite"] = (out / "state.sqlite").read_bytes()
    return found


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_state_is_named_in_one_line_and_left_as_it_is(script, finished_run, case):
    out, args = finished_run
    damage, says = DAMAGE[case]
    damage(out / "state.sqlite")
    before = contents(out)
    calls = len(script.calls)

    done = invoke(*args)
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert done.exit_code == 2 and len(lines) == 1, done.output
    assert lines[0].startswith("codeclm: error: ") and "state.sqlite" in lines[0], lines[0]
    assert says in lines[0], lines[0]
    assert contents(out) == before  # nothing rewritten, recreated or exported
    assert len(script.calls) == calls  # and nothing paid for again
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"  # the last session's

    for command in ("status", "report"):  # each says what it can, or one line; never a traceback
        done = invoke(command, str(out))
        assert done.exit_code in (0, 2), done.output
        assert done.exit_code == 0 or done.output.startswith("codeclm: error: "), done.output
