"""The items table: an item's progress never takes back an outcome an earlier session recorded."""

import json

from codeclm_dspy.runs.run_state import RunState


def test_progress_does_not_replace_an_earlier_outcome_but_a_new_outcome_does(tmp_path):
    # a finished run run again replays every item from "running"; stopped midway, its export
    # lost the rows whose replay had not reached their outcome yet
    state = RunState(tmp_path / "state.sqlite")
    for status, stage in (("kept", "contrastive_filtering"), ("rejected", "quality"), ("failed", "decode")):
        state.put_item("instruction", status, status, stage, 1, {"id": status, "outcome": status})
    state.flush()
    for item in ("kept", "rejected", "failed", "new"):
        state.put_item("instruction", item, "running", "self_rubrics", 2, {"id": item, "progress": True})
    state.flush()

    assert state.counts() == {"kept": 1, "rejected": 1, "failed": 1, "running": 1}
    assert state.export(tmp_path / "kept.jsonl", ("kept",)) == 1
    assert state.export(tmp_path / "rejected.jsonl", ("rejected", "failed")) == 2
    assert [json.loads(r)["outcome"] for r in (tmp_path / "rejected.jsonl").open()] == ["failed", "rejected"]

    state.put_item("instruction", "kept", "rejected", "quality", 2, {"id": "kept", "outcome": "rejected"})
    state.flush()
    assert state.counts() == {"rejected": 2, "failed": 1, "running": 1}  # the replay's own outcome wins
    state.close()
