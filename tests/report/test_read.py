"""The report's readers: SQLite opened read-only whatever the path holds, files read through the
shared reader, and every damaged input one line with exit 2."""

import sqlite3

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from codeclm_dspy.report.read import ReportError, kind_of, query, read_json, read_rows


def make_db(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id TEXT)")
        conn.execute("INSERT INTO items VALUES ('a')")
    conn.close()


@pytest.mark.parametrize("name", ["r#1", "r?x=1", "a%00b", "a%23b", "sp ace", "ünï"])
def test_query_opens_the_file_named_whatever_the_directory_name_holds(tmp_path, name):
    """A ``#`` or ``?`` once ended the URI's file name: SQLite created ``r`` and the report lost its state."""
    db = tmp_path / name / "state.sqlite"
    make_db(db)
    assert query(db, "SELECT id FROM items") == [("a",)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # nothing created beside it


def test_query_says_less_for_an_older_file_and_refuses_a_damaged_one(tmp_path):
    db = tmp_path / "state.sqlite"
    make_db(db)
    assert query(db, "SELECT x FROM calls") == []  # a table an older version did not write
    assert query(tmp_path / "absent.sqlite", "SELECT 1") == []
    db.write_bytes(b"not a database at all, just some bytes" * 50)
    with pytest.raises(ReportError, match=r"cannot read .*state\.sqlite"):
        query(db, "SELECT id FROM items")


def test_rows_and_json_go_through_the_shared_reader(tmp_path):
    rows = tmp_path / "kept.jsonl"
    rows.write_bytes(b'{"id": "a"}\n\n{"id": "b"}\n\xff\n')
    with pytest.raises(ReportError, match=r"kept.jsonl line 4, column 1: not UTF-8"):
        list(read_rows(rows))
    rows.write_text('{"id": "a"}\n[1]\n')
    with pytest.raises(ReportError, match=r"kept.jsonl line 2: not a JSON object but a list"):
        list(read_rows(rows))
    rows.write_text('{"id": "a", "text": "\\u001b[31m"}\n')  # a model's answer may hold a control character
    assert list(read_rows(rows)) == [(f"{rows} line 1", {"id": "a", "text": "\x1b[31m"})]
    manifest = tmp_path / "manifest.json"
    manifest.write_text("[" * 100 + "]" * 100)
    with pytest.raises(ReportError, match="nested deeper than 64 levels"):
        read_json(manifest)


def test_a_damaged_marker_leaves_the_kind_to_the_files(tmp_path):
    (tmp_path / ".codeclm").write_text('{"codeclm": ["run"]}')
    (tmp_path / "kept.jsonl").write_text("")
    assert kind_of(tmp_path) == "run"


def test_bad_input_exits_2_not_1(tmp_path):
    """Exit 1 is kept for a failed --push-to-hub; a path the report cannot read is bad input."""
    assert ReportError.exit_code == 2
    plain = tmp_path / "plain"
    plain.mkdir()
    for path in (tmp_path / "nowhere", plain, tmp_path / "plain" / "x"):
        done = CliRunner().invoke(app, ["report", str(path)])
        assert done.exit_code == 2, done.output
        assert "Traceback" not in done.output and len(done.output.strip().splitlines()) == 1
