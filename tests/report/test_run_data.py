"""A run's files edited by hand: each reader checks the shapes it relies on and names the file and
field that is wrong (exit 2), where it once failed with an AttributeError or TypeError."""

import json

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from codeclm_dspy.report.page import report_data
from codeclm_dspy.report.read import ReportError

KEPT = {"id": "k1", "instruction": "Q", "source": "strong", "iteration": 1, "gap": 3.0, "response": "A"}


@pytest.fixture
def run(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".codeclm").write_text('{"codeclm": "run"}')
    (out / "kept.jsonl").write_text(json.dumps(KEPT) + "\n")
    (out / "manifest.json").write_text(json.dumps({"status": "complete", "cost_funnel": {"seeds": 1}}))
    return out


def test_a_plain_run_reads(run):
    data = report_data(run, "run")
    assert [i["id"] for i in data["items"]] == ["k1"] and data["gaps"] == {"1": [3.0]}


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        ([1, 2], "manifest.json: expected an object, found a list"),
        ("x", "manifest.json: expected an object, found text"),
        (42, "manifest.json: expected an object, found a number"),
        ({"cost_funnel": 5}, "field 'cost_funnel': expected an object, found a number"),
        ({"config": "x"}, "field 'config': expected an object, found text"),
        ({"config": {"pipeline": [1]}}, "field 'config.pipeline': expected an object, found a list"),
        ({"models": {"strong": "m"}}, "field 'models.strong': expected an object, found text"),
        ({"cost_funnel": {"iterations": [1]}}, "field 'cost_funnel.iterations': item 1 is a number"),
        ({"cost_funnel": {"stages": {"a": 1}}}, "field 'cost_funnel.stages.a': expected an object"),
        ({"usage": [1]}, "field 'usage': expected an object, found a list"),
        ({"usage": {"steps": {"encode": 3}}}, "field 'usage.steps.encode': expected an object"),
        (
            {"usage": {"steps": {"encode": {"models": [1]}}}},
            "'usage.steps.encode.models': item 1 is a number",
        ),
    ],
)
def test_a_hand_edited_manifest_is_named_with_its_field(run, manifest, field):
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReportError, match=r"manifest\.json") as caught:
        report_data(run, "run")
    assert field in str(caught.value)


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"id": "r", "attempts": "no"}, "line 1, field 'attempts': expected a list, found text"),
        ({"id": "r", "attempts": [3]}, "line 1, field 'attempts': item 1 is a number; expected an object"),
        ({"id": "r", "reason": ["x"]}, "line 1, field 'reason': expected text, found a list"),
        ({"id": "r", "seed_ids": [["s"]]}, "line 1, field 'seed_ids': item 1 is a list"),
        ({"id": "r", "kind": {"a": 1}}, "line 1, field 'kind': expected text, found an object"),
    ],
)
def test_a_hand_edited_row_is_named_with_its_line_and_field(run, row, field):
    (run / "rejected.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ReportError, match=r"rejected\.jsonl") as caught:
        report_data(run, "run")
    assert field in str(caught.value)


def test_gaps_skip_an_iteration_that_is_not_a_round_number(run):
    rows = [
        {"id": f"r{n}", "attempts": [{"iteration": it, "gap": 1.0}]} for n, it in enumerate(["x", 1.5, 2])
    ]
    (run / "rejected.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert report_data(run, "run")["gaps"] == {"1": [3.0], "2": [1.0]}


@pytest.mark.parametrize("manifest", ["[1,2]", '{"cost_funnel": 5}', '{"config": "x"}', '"x"', "42"])
def test_the_command_says_one_line_and_exits_2(run, manifest):
    (run / "manifest.json").write_text(manifest)
    done = CliRunner().invoke(app, ["report", str(run)])
    assert done.exit_code == 2, done.output
    assert done.output.count("\n") == 1 and "manifest.json" in done.output and "Traceback" not in done.output
    assert not (run / "report.html").exists()


def test_a_byte_that_is_not_utf8_is_named_by_line(run):
    with (run / "kept.jsonl").open("ab") as handle:
        handle.write(b"\xff\n")
    done = CliRunner().invoke(app, ["report", str(run)])
    assert done.exit_code == 2, done.output
    assert "kept.jsonl line 2, column 1: not UTF-8" in done.output and "Traceback" not in done.output
