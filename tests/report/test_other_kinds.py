"""The report of a CRR evaluation, a compiled program, a comparison and a sweep, each made for
real on the scripted provider, read back and opened in the browser."""

import asyncio
import json

import pytest
from typer.testing import CliRunner

import optimizers.compile as compile_module
from benchmarks.headless import Browser
from codeclm_dspy.cli import app
from codeclm_dspy.config import parse_config
from codeclm_dspy.report import write_report
from codeclm_dspy.report.page import report_data
from codeclm_dspy.report.read import ReportError
from evals.crr_runner import run_crr
from optimizers import compile_program
from optimizers.space import SearchSpace
from optimizers.sweep import run_sweep
from optimizers.sweep_plots import write_plots
from tests.compile_helpers import bag_of_words, compile_config, learning_judge, write_seeds
from tests.evals import test_crr_run as crr_case
from tests.evals.test_compare import BagOfWords, heldout, make_run  # noqa: F401
from tests.optimizers import test_sweep as sweep_case

BOOTSTRAP = {"optimizer": "BootstrapFewShotWithRandomSearch", "params": {"num_candidate_programs": 2}}


@pytest.fixture
def crr_dir(script, tmp_path):
    script.handlers["evaluate"] = crr_case.evaluate
    run_crr(crr_case.config(), crr_case.benchmark(tmp_path), tmp_path / "eval")
    return tmp_path / "eval"


@pytest.fixture
def program_dir(script, tmp_path, monkeypatch):
    script.handlers["judge"] = learning_judge
    monkeypatch.setattr(compile_module, "_embedder", lambda name: bag_of_words)
    config = parse_config(compile_config({"judge": {**BOOTSTRAP, "pass_mark": 1.0}}))
    compile_program(config, write_seeds(tmp_path / "seeds.jsonl"), tmp_path / "prog")
    return tmp_path / "prog"


@pytest.fixture
def comparison_dir(tmp_path, heldout, monkeypatch):  # noqa: F811
    monkeypatch.setattr("evals.embeddings.Embedder", lambda name: BagOfWords())
    runs = [str(make_run(tmp_path, name, [f"{name} question {k}" for k in range(3)])) for name in ("a", "b")]
    args = ["eval", "compare", *runs, "--against", str(heldout), "--out", str(tmp_path / "cmp")]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    return tmp_path / "cmp"


@pytest.fixture
def sweep_dir(script, tmp_path):
    files = sweep_case.files.__wrapped__(script, tmp_path)
    space = SearchSpace.model_validate(sweep_case.SPACE)
    study = run_sweep(
        sweep_case.BASE,
        space,
        files / "seeds.jsonl",
        files / "heldout.jsonl",
        files / "sweep",
        trials=2,
        embedder=sweep_case.BagOfWords(),
    )
    write_plots(study, files / "sweep" / "plots")
    return files / "sweep"


def test_crr_report_has_each_verdict_with_both_orders(crr_dir):
    data = report_data(crr_dir)
    assert data["kind"] == "crr" and data["result"]["crr"] == 0.6
    verdicts = {i["id"]: i for i in data["items"]}
    assert {k: v["verdict"] for k, v in verdicts.items()} == {
        "win": "win",
        "loss-a": "loss",
        "loss-b": "loss",
        "split": "tie",
        "equal": "tie",
    }
    assert verdicts["win"]["judge_scores"]["target_first"] == {"target": 9, "strong": 3}


def test_compile_report_pairs_each_held_out_example_before_and_after(program_dir):
    manifest = json.loads((program_dir / "manifest.json").read_text())
    data = report_data(program_dir)
    (step,) = data["steps"]
    judge = manifest["steps"]["judge"]
    assert (step["step"], step["before"], step["after"]) == (
        "judge",
        judge["before"]["mean"],
        judge["after"]["mean"],
    )
    assert step["instructions"] == judge["instructions"]
    assert len(data["items"]) == judge["after"]["n"]
    for item in data["items"]:
        assert item["change"] == pytest.approx(item["after"]["score"] - item["before"]["score"])
    assert {i["outcome"] for i in data["items"]} >= {"better"}  # the demos taught the judge


def test_comparison_report_has_the_rows_and_the_chart(comparison_dir):
    data = report_data(comparison_dir)
    assert [r["path"] for r in data["rows"]] == [str(comparison_dir.parent / n) for n in ("a", "b")]
    assert all(isinstance(r["coverage"], float) for r in data["rows"])
    assert data["images"] and data["images"][0]["src"].startswith("data:image/png;base64,iVBOR")


def test_sweep_report_lists_trials_with_their_knobs_and_objectives(sweep_dir):
    data = report_data(sweep_dir)
    assert [t["number"] for t in data["items"]] == [0, 1]
    for trial in data["items"]:
        assert set(trial["params"]) == {"pipeline.threshold", "pipeline.max_iterations"}
        assert isinstance(trial["params"]["pipeline.max_iterations"], int)
        if trial["outcome"] == "complete":
            assert set(trial["values"]) == {"quality", "cost per kept pair"}
    assert any(image["name"] == "pareto front" for image in data["images"])


def test_each_page_loads_without_error_and_browses_its_items(
    chromium, crr_dir, program_dir, comparison_dir, sweep_dir, tmp_path
):
    pages = {crr_dir: 5, program_dir: None, comparison_dir: 0, sweep_dir: 2}
    reports = {write_report(path): count for path, count in pages.items()}

    async def visit():
        async with Browser.start(tmp_path) as page:
            for report, count in reports.items():
                await page.open(report)
                shown = await page.evaluate(
                    "document.querySelectorAll('#item-browser tbody tr[data-id]').length"
                )
                assert shown == (
                    count if count is not None else await page.evaluate("Math.min(50, D.items.length)")
                )
                if shown:
                    await page.click("#item-browser tbody tr[data-id]")
                    assert (
                        await page.evaluate("document.getElementById('item-browser-detail').innerText.length")
                        > 20
                    )
                assert page.errors == [], (report, page.errors)

    asyncio.run(asyncio.wait_for(visit(), 90))


@pytest.mark.parametrize(
    ("kind", "name", "content", "field"),
    [
        ("crr", "manifest.json", [1], "manifest.json: expected an object, found a list"),
        ("crr", "manifest.json", {"models": ["judge"]}, "field 'models': expected an object"),
        ("program", "manifest.json", {"steps": {"encode": 3}}, "field 'steps.encode': expected an object"),
        (
            "program",
            "manifest.json",
            {"steps": {"e": {"before": []}}},
            "field 'steps.e.before': expected an object",
        ),
        (
            "program",
            "manifest.json",
            {"steps": {"e": {"after": {"items": [1]}}}},
            "'steps.e.after.items': item 1",
        ),
        ("comparison", "comparison.json", "x", "comparison.json: expected an object, found text"),
        ("comparison", "comparison.json", {"flags": {"run": [1]}}, "field 'flags.run': item 1 is a number"),
        ("comparison", "comparison.json", {"flags": {"run": 5}}, "field 'flags.run': expected a list"),
        ("comparison", "comparison.json", {"rows": {}}, "field 'rows': expected a list, found an object"),
    ],
)
def test_hand_edited_files_of_other_kinds_are_named_with_their_field(tmp_path, kind, name, content, field):
    """These once failed with an AttributeError or TypeError, a traceback instead of one line."""
    (tmp_path / name).write_text(json.dumps(content))
    with pytest.raises(ReportError, match=name) as caught:
        report_data(tmp_path, kind)
    assert field in str(caught.value)


def test_a_verdict_row_with_a_verdict_that_is_not_text_is_named(tmp_path):
    (tmp_path / "verdicts.jsonl").write_text('{"id": 1, "verdict": "win"}\n{"id": 2, "verdict": 3}\n')
    with pytest.raises(ReportError, match=r"verdicts.jsonl line 2, field 'verdict': expected text"):
        report_data(tmp_path, "crr")


def test_sweep_rows_as_optuna_never_writes_them_are_shown_as_stored(tmp_path):
    """A hand-edited study.db: odd values are shown, never a crash on an int() or a comparison."""
    import sqlite3

    with sqlite3.connect(tmp_path / "study.db") as conn:
        conn.executescript(
            "CREATE TABLE studies (study_id, study_name);"
            "CREATE TABLE trials (trial_id, study_id, number, state, datetime_start, datetime_complete);"
            "CREATE TABLE trial_values (trial_id, objective, value);"
            "CREATE TABLE trial_params (trial_id, param_name, param_value, distribution_json);"
            "CREATE TABLE trial_user_attributes (trial_id, key, value_json);"
            "INSERT INTO studies VALUES (1, 's'), (2, 7);"
            "INSERT INTO trials VALUES (1, 1, 0, 'COMPLETE', NULL, NULL), (2, 2, NULL, 'FAIL', NULL, NULL);"
            "INSERT INTO trial_values VALUES (1, 'x', 1.0), (1, 0, 0.5);"
            """INSERT INTO trial_params VALUES (1, 'a', 'abc', '{"name": "IntDistribution"}'),
               (1, 'b', 9, '{"name": "CategoricalDistribution", "attributes": {"choices": 3}}'),
               (1, 'c', 1, '[1]');"""
        )
    conn.close()
    items = report_data(tmp_path, "sweep")["items"]
    assert [(t["study"], t["number"]) for t in items] == [("7", None), ("s", 0)]
    first = next(t for t in items if t["study"] == "s")
    assert first["params"] == {"a": "abc", "b": 9, "c": 1}
    assert first["values"] == {"x": 1.0, "quality": 0.5}
