"""CRR measured through the engine: verdicts, the interval, failures, resume, the CLI."""

import json

import pytest
from typer.testing import CliRunner

import codeclm_dspy as cc
from codeclm_dspy.cli import app
from codeclm_dspy.errors import RunStopped
from evals.crr import crr
from evals.crr_runner import run_crr

# How the judge sees each item: (target score, strong score) when the target's
# answer is shown first, and when the strong answer is shown first.
CASES = {
    "win": ((9, 3), (8, 4)),
    "loss-a": ((2, 9), (3, 8)),
    "loss-b": ((1, 7), (2, 6)),
    "split": ((7, 5), (4, 6)),  # position bias: the first answer always wins
    "equal": ((6, 6), (6, 6)),
}


def benchmark(tmp_path):
    path = tmp_path / "bench.jsonl"
    rows = [{"id": k, "instruction": f"Task {k}"} for k in CASES]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def judge(role, inputs, params):
    target_first, strong_first = CASES[inputs["instruction"].split()[1]]
    if inputs["answer_1"] == "TARGET answer":
        return {"score_1": target_first[0], "score_2": target_first[1]}
    return {"score_1": strong_first[1], "score_2": strong_first[0]}


def config():
    return cc.parse_config(
        {
            "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
            "engine": {"workers": 2, "cache": False},
        }
    )


def test_crr_counts_wins_ties_losses_in_both_orders(script, tmp_path):
    script.handlers["judge"] = judge
    result = run_crr(config(), benchmark(tmp_path), tmp_path / "eval")
    assert (result.wins, result.ties, result.losses) == (1, 2, 2)
    assert result.crr == 0.6 and result == crr(["win", "tie", "tie", "loss", "loss"])
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "eval" / "verdicts.jsonl").open())}
    assert rows["split"]["verdict"] == "tie" and rows["win"]["verdict"] == "win"
    assert rows["win"]["judge_scores"]["target_first"] == {"target": 9, "strong": 3}
    assert len(script.steps("judge")) == 10  # two orders per item
    manifest = json.loads((tmp_path / "eval" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"] == {"judged": 5, "failed": 0}
    assert manifest["result"]["crr"] == 0.6 and manifest["usage"]["calls"] == 20


def test_a_finished_evaluation_rerun_makes_no_calls(script, tmp_path):
    script.handlers["judge"] = judge
    first = run_crr(config(), benchmark(tmp_path), tmp_path / "eval")
    made = len(script.calls)
    again = run_crr(config(), benchmark(tmp_path), tmp_path / "eval")
    assert again == first and len(script.calls) == made


def test_an_item_the_judge_cannot_score_is_failed_with_its_evidence(script, tmp_path):
    def flaky(role, inputs, params):
        return "no scores here" if "equal" in inputs["instruction"] else judge(role, inputs, params)

    script.handlers["judge"] = flaky
    result = run_crr(config(), benchmark(tmp_path), tmp_path / "eval", limit=5)
    assert result.total == 4
    (row,) = map(json.loads, (tmp_path / "eval" / "failed.jsonl").open())
    assert row["id"] == "equal" and row["reason"] == "parse_error" and row["raw"]
    manifest = json.loads((tmp_path / "eval" / "manifest.json").read_text())
    assert manifest["counts"] == {"judged": 4, "failed": 1}


def test_cli_prints_wtl_crr_and_interval(script, tmp_path):
    script.handlers["judge"] = judge
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "models:\n  strong: {model: scripted/strong}\n  target: {model: scripted/target}\n"
        "engine: {workers: 2, cache: false}\n"
    )
    args = ["eval", "crr", "--config", str(cfg), "--benchmark", str(benchmark(tmp_path)),
            "--out", str(tmp_path / "eval"), "--limit", "3", "--quiet"]  # fmt: skip
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "W/T/L 1/0/2 of 3: CRR 33.33% (95% CI" in out.output


def test_cli_rejects_a_missing_benchmark_in_one_line(script, tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("models:\n  strong: {model: scripted/strong}\n  target: {model: scripted/target}\n")
    args = ["eval", "crr", "--config", str(cfg), "--benchmark", str(tmp_path / "nope.jsonl"),
            "--out", str(tmp_path / "eval")]  # fmt: skip
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 2 and "cannot read benchmark" in out.output
    assert "Traceback" not in out.output and not (tmp_path / "eval").exists()


def test_a_budget_stop_resumes_to_the_same_result(script, tmp_path):
    script.handlers["judge"] = judge
    whole = run_crr(config(), benchmark(tmp_path), tmp_path / "whole")
    calls_whole = len(script.calls)
    capped = config()
    capped.engine.budget.max_calls = 7
    with pytest.raises(RunStopped):
        run_crr(capped, benchmark(tmp_path), tmp_path / "eval")
    manifest = json.loads((tmp_path / "eval" / "manifest.json").read_text())
    assert manifest["status"] == "stopped" and manifest["usage"]["calls"] == 7
    resumed = run_crr(config(), benchmark(tmp_path), tmp_path / "eval")
    assert resumed == whole
    assert len(script.calls) == 2 * calls_whole  # the stopped run's 7 calls were not sent again
