"""The journal's in-memory key index: every key it was given or loaded is found, no other."""

from __future__ import annotations

import hashlib
import random

from codeclm_dspy import key_index
from codeclm_dspy.key_index import KeyIndex
from codeclm_dspy.runs.run_state import RunState


def key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def test_added_keys_are_found_before_and_after_merges(monkeypatch):
    monkeypatch.setattr(key_index, "MERGE_AT", 7)  # many merges over a small run
    index = KeyIndex(sorted(key(n) for n in range(50)))
    order = list(range(50, 400))
    random.Random(0).shuffle(order)
    for done, n in enumerate(order, 1):
        index.add(key(n))
        assert key(n) in index
        if done % 37 == 0:  # every key so far, loaded or added, merged or recent
            assert all(key(m) in index for m in range(50)) and all(key(m) in index for m in order[:done])
    assert all(key(m) in index for m in range(400))
    assert not any(key(m) in index for m in range(400, 2000))
    assert len(index) == 400
    index.add(key(3))  # adding a known key again keeps one copy
    for n in range(7):
        index.add(key(n))
    assert len(index) == 400


def test_keys_out_of_order_are_still_found():
    keys = [key(n) for n in range(100)]  # hash order, not sorted
    index = KeyIndex(keys)
    assert all(k in index for k in keys) and key(100) not in index


def test_a_resumed_journal_knows_every_key_of_earlier_sessions(tmp_path, monkeypatch):
    monkeypatch.setattr(key_index, "MERGE_AT", 5)
    path = tmp_path / "state.sqlite"
    answer = {
        "content": "yes",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }

    def record(state: RunState, n: int) -> None:
        details = {"role": "strong", "step": "decode", "model": "m", "source": "provider", "usd": None}
        state.record_call(key(n), **details, response={**answer, "content": str(n)}, seconds=0.0).result()

    first = RunState(path)
    for n in range(23):
        record(first, n)
    assert first.recorded_call(key(22))["content"] == "22" and first.recorded_call(key(23)) is None
    first.close()

    for session in range(2):  # resumed twice: loaded from the file, then added to
        state = RunState(path)
        assert all(state.recorded_call(key(n))["content"] == str(n) for n in range(23 + 10 * session))
        assert state.recorded_call(key(999)) is None
        for n in range(23 + 10 * session, 33 + 10 * session):
            record(state, n)
            assert state.recorded_call(key(n))["content"] == str(n)
        state.close()
