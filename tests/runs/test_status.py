"""``codeclm status``: what a run's journal says, read while it runs or after."""

import json
import sqlite3

import codeclm_dspy as cc
from codeclm_dspy.pipeline.records import Seed
from codeclm_dspy.runs.status import run_status
from tests import scripted


def test_calls_without_a_price_are_shown_as_unknown_never_as_free(script, tmp_path):
    out = tmp_path / "run"
    cc.generate(scripted.config(pipeline={"num_instructions": 2}), [Seed("s0", "What is a roux?")], out)
    assert "paid calls: " in run_status(out) and "unknown" not in run_status(out)  # priced at $0

    with sqlite3.connect(out / "state.sqlite") as conn:
        (calls,) = conn.execute("SELECT COUNT(*) FROM calls WHERE source = 'provider'").fetchone()
        conn.execute("UPDATE calls SET usd = NULL WHERE rowid IN (SELECT rowid FROM calls LIMIT 2)")
    assert f"paid calls: {calls} ($0.0000 + 2 calls of unknown price)" in run_status(out)
    with sqlite3.connect(out / "state.sqlite") as conn:
        conn.execute("UPDATE calls SET usd = NULL")
    assert f"paid calls: {calls} (price unknown)" in run_status(out)


def test_a_run_whose_path_holds_a_hash_is_read_in_place_and_nothing_is_created(script, tmp_path):
    # "file:{path}?mode=ro" ended SQLite's file name at the "#": it opened (and created) tmp/r
    out = tmp_path / "r#1"
    cc.generate(scripted.config(pipeline={"num_instructions": 1}), [Seed("s0", "What is a roux?")], out)
    (out / "manifest.json").write_text("[1, 2]")  # hand-edited: not an object, so not read
    shown = run_status(out)
    assert "items: rejected" in shown and "paid calls: " in shown and "no manifest yet" in shown
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r#1"]


def test_items_are_counted_as_the_manifest_counts_them_without_trajectories(script, tmp_path):
    # a kept pair's trajectory is a second row beside it in the journal: status listed
    # "trajectory 1" as if it were an item state, and a user counted it as one more item
    script.handlers["judge"] = lambda role, i, p: (
        {"score_1": 9, "score_2": 2} if i["answer_1"] == "STRONG answer" else {"score_1": 2, "score_2": 9}
    )
    out = tmp_path / "run"
    cc.generate(scripted.config(pipeline={"num_instructions": 2}), [Seed("s0", "What is a roux?")], out)
    items = json.loads((out / "manifest.json").read_text())["items"]
    assert items["kept"] >= 1  # so the journal holds a trajectory

    (line,) = [line for line in run_status(out).splitlines() if line.startswith("items: ")]
    assert "trajectory" not in line
    order = [k for k in ("kept", "rejected", "failed", "running") if k in items]
    assert line == "items: " + ", ".join(f"{k} {items[k]}" for k in order)
