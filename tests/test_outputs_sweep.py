"""Issue 13, outputs of ``codeclm sweep`` and ``sweep best``: the storage URL, the
study name and the files they write are checked before anything runs.

A storage URL whose driver is missing used to surface as Optuna's bare
``ImportError: Failed to import DB access module``; now the message names the
URL (password hidden), the driver and its pip package.
"""

import sqlite3

import pytest

from tests.test_outputs_paths import command, inputs, refused, snapshot, users_folder  # noqa: F401


def best(tmp_path, *args: str) -> list[str]:
    return ["sweep", "best", "--out", str(tmp_path / "best.yaml"), *args]


@pytest.mark.parametrize(
    ("storage", "phrases"),
    [
        (
            "postgresql://nobody@127.0.0.1:1/db",
            ["postgresql://", "psycopg", "pip install", "nobody@127.0.0.1:1"],
        ),
        ("mysql://me:s3cret-pw@127.0.0.1:1/db", ["mysql://", "pip install mysqlclient", "pymysql"]),
        ("mysql+pymysql://me:s3cret-pw@127.0.0.1:1/db", ["pymysql driver", "pip install pymysql"]),
        ("postgresql+psycopg2://me:s3cret-pw@127.0.0.1:0/db", ["port 0 is outside 1-65535"]),
        ("postgresql+psycopg2://me:s3cret-pw@127.0.0.1:70000/db", ["port 70000 is outside 1-65535"]),
        ("postgresql+psycopg2://me:s3cret-pw@127.0.0.1:x/db", ["port is not a number"]),
        ("postgresql+psycopg2://me:s3cret-pw@bad_host!/db", ["is not a host name or address"]),
        ("postgresql+psycopg2://me:s3cret-pw@host\n/db", ["control character"]),
        ("postgres://me:s3cret-pw@127.0.0.1/db", ["spells it postgresql://"]),
        ("oracle://me:s3cret-pw@127.0.0.1/db", ["'oracle' is not a storage"]),
        ("postgresql+asyncpg://me:s3cret-pw@127.0.0.1/db", ["asyncio driver"]),
        ("not a url", ["not a database URL"]),
        ("sqlite://", ["in-memory"]),
    ],
)
@pytest.mark.parametrize("cmd", ["sweep", "sweep best"])
def test_a_storage_url_is_checked_before_anything_runs(inputs, tmp_path, cmd, storage, phrases):  # noqa: F811
    before = snapshot(tmp_path)
    args = best(tmp_path) if cmd == "sweep best" else command("sweep", inputs, str(tmp_path / "sweep"))
    line = refused([*args, "--storage", storage])
    assert "--storage" in line and all(p in line for p in phrases), line
    assert "s3cret-pw" not in line and "ImportError" not in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("name", "sweep_phrase", "best_phrase"),
    [
        ("junk.db", "junk.db is not a SQLite database", "junk.db is not a SQLite database"),
        ("afile/study.db", "afile is a file, not a directory", "no sweep storage at"),
        ("adir", "it is a directory, not a file", "no sweep storage at"),
        ("missing.db", None, "no sweep storage at"),
        ("invoices.db", None, "invoices.db has none of codeclm's tables"),
    ],
)
def test_a_sqlite_storage_file_is_checked(inputs, tmp_path, name, sweep_phrase, best_phrase):  # noqa: F811
    (tmp_path / "junk.db").write_text("not a database")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    with sqlite3.connect(tmp_path / "invoices.db") as own:
        own.execute("CREATE TABLE invoices (n INTEGER)")
    storage = f"sqlite:///{tmp_path / name}"
    before = snapshot(tmp_path)
    line = refused([*best(tmp_path), "--storage", storage])
    assert best_phrase in line and name.split("/")[0] in line, line
    if sweep_phrase:
        line = refused([*command("sweep", inputs, str(tmp_path / "sweep")), "--storage", storage])
        assert sweep_phrase in line, line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("study", "phrase"),
    [
        ("", "the study name is empty"),
        ("   ", "the study name is empty"),
        (" padded", "start or end with a space"),
        ("a/../../escape", "cannot hold / or \\"),
        ("..", "be . or .."),
        ("tab\there", "control characters"),
        ("s" * 300, "300 bytes long"),
    ],
)
@pytest.mark.parametrize("cmd", ["sweep", "sweep best"])
def test_a_study_name_is_validated(inputs, tmp_path, cmd, study, phrase):  # noqa: F811
    args = best(tmp_path) if cmd == "sweep best" else command("sweep", inputs, str(tmp_path / "sweep"))
    before = snapshot(tmp_path)
    line = refused([*args, "--study", study])
    assert "--study" in line and phrase in line, line
    assert snapshot(tmp_path) == before


def _written(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (lambda t: users_folder(t), "it is a directory, not a file"),
        (lambda t: _written(t / "afile", "x") / "best.yaml", "afile is a file, not a directory"),
        (lambda t: _written(t / "mine.yaml", "my: config\n"), "not written by codeclm sweep best"),
        (lambda t: t / ("n" * 300 + ".yaml"), "bytes long"),
    ],
)
def test_sweep_best_out_is_checked_before_the_study_is_read(tmp_path, make, phrase):
    out = make(tmp_path)
    before = snapshot(tmp_path)
    line = refused(["sweep", "best", "--sweep-dir", str(tmp_path / "nosweep"), "--out", str(out)])
    assert "--out" in line and phrase in line, line
    assert snapshot(tmp_path) == before
