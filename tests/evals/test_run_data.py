"""``load_run`` on a hand-edited manifest: the spend it divides per kept pair is checked first, so a
wrong type is one line naming the field (exit 2), not an AttributeError or TypeError."""

import json

import pytest

from evals.run_data import CompareError, load_run


def run_with(tmp_path, usage):
    run = tmp_path / "run"
    run.mkdir()
    (run / "kept.jsonl").write_text('{"id": "a", "instruction": "Q"}\n{"id": "b", "instruction": "R"}\n')
    (run / "manifest.json").write_text(json.dumps({"status": "complete", "usage": usage}))
    return run


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ([1], "field 'usage' is a list; expected an object"),
        ("x", "field 'usage' is text; expected an object"),
        ({"calls": "5"}, "field 'usage.calls' is text; expected a number"),
        ({"tokens": True}, "field 'usage.tokens' is true/false; expected a number"),
        ({"standalone": 3}, "field 'usage.standalone' is a number; expected an object"),
        ({"standalone": {"usd": [1]}}, "field 'usage.standalone.usd' is a list; expected a number"),
    ],
)
def test_a_usage_of_the_wrong_shape_is_named(tmp_path, usage, field):
    run = run_with(tmp_path, usage)
    with pytest.raises(CompareError) as caught:
        load_run(run)
    assert str(caught.value) == f"{run / 'manifest.json'}: {field}"
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("usage", "calls"),
    [(None, None), ({}, None), ({"calls": 10, "usd": None}, 10), ({"calls": 4, "standalone": {}}, 4)],
)
def test_a_usage_of_the_right_shape_still_reads(tmp_path, usage, calls):
    got = load_run(run_with(tmp_path, usage))
    assert got.calls == calls and got.kept == 2
    assert got.calls_per_kept == (None if calls is None else calls / 2)
