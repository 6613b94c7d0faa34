"""CRR measured through the engine: an independent judge, verdicts, failures, gates, resume, the CLI."""

import json

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from codeclm_dspy.errors import RunDirError, RunStopped
from evals.crr import crr
from evals.crr_runner import run_crr
from evals.evaluator import Evaluator, SelfJudgedError
from tests import scripted

# How the judge sees each item: (target score, strong score) when the target's
# answer is shown first, and when the strong answer is shown first.
CASES = {
    "win": ((9, 3), (8, 4)),
    "loss-a": ((2, 9), (3, 8)),
    "loss-b": ((1, 7), (2, 6)),
    "split": ((7, 5), (4, 6)),  # position bias: the first answer always wins
    "equal": ((6, 6), (6, 6)),
}
JUDGE_YAML = "  judge: {model: scripted/judge}\n"


def benchmark(tmp_path, cases=CASES):
    path = tmp_path / "bench.jsonl"
    rows = [{"id": k, "instruction": f"Task {k}"} for k in cases]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def evaluate(role, inputs, params):
    target_first, strong_first = CASES[inputs["instruction"].split()[1]]
    if inputs["answer_1"] == "TARGET answer":
        scores = {"score_1": target_first[0], "score_2": target_first[1]}
    else:
        scores = {"score_1": strong_first[1], "score_2": strong_first[0]}
    return {**scores, "explanation": f"assistant 1 gets {scores['score_1']}"}


def config(judge: str | None = "scripted/judge"):
    return scripted.config(models={"judge": {"model": judge}} if judge else {})


def write_config(tmp_path, judge_line: str = JUDGE_YAML):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "models:\n  strong: {model: scripted/strong}\n  target: {model: scripted/target}\n"
        f"{judge_line}engine: {{workers: 2, cache: false}}\n"
    )
    return cfg


@pytest.fixture
def params_log(script, monkeypatch):
    """Record every request's parameters with its role and step (the script keeps only inputs)."""
    script.params = []
    served = script.completion

    def completion(model, messages, *args, optional_params=None, **kwargs):
        answer = served(model, messages, *args, optional_params=optional_params, **kwargs)
        script.params.append((model.rsplit("/", 1)[-1], script.calls[-1][1], dict(optional_params or {})))
        return answer

    monkeypatch.setattr(script, "completion", completion)
    return script.params


def test_an_independent_judge_scores_both_orders_at_temperature_zero(script, params_log, tmp_path):
    script.handlers["evaluate"] = evaluate
    result = run_crr(config(), benchmark(tmp_path), tmp_path / "eval")
    assert (result.excluded.wins, result.excluded.ties, result.excluded.losses) == (1, 2, 2)
    assert result.excluded == crr(["win", "tie", "tie", "loss", "loss"]) == result.as_losses
    calls = script.steps("evaluate")
    assert len(calls) == 10 and not script.steps("judge")  # the evaluation prompt, never CF's
    assert {role for role, _ in calls} == {"judge"}
    assert all({"instruction", "answer_1", "answer_2"} <= set(inputs) for _, inputs in calls)
    temperatures = {(role, step): params for role, step, params in params_log}
    assert temperatures[("judge", "evaluate")]["temperature"] == 0.0
    assert temperatures[("strong", "respond")]["temperature"] == 0.7  # the answers keep theirs
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "eval" / "verdicts.jsonl").open())}
    assert rows["split"]["verdict"] == "tie" and rows["win"]["verdict"] == "win"
    assert rows["win"]["judge_scores"]["target_first"] == {"target": 9, "strong": 3}
    assert rows["win"]["explanations"] == {
        "strong_first": "assistant 1 gets 4",
        "target_first": "assistant 1 gets 9",
    }
    assert rows["win"]["target_gate"] is None
    manifest = json.loads((tmp_path / "eval" / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["counts"]["judged"] == 5
    assert (manifest["judge_model"], manifest["judge_temperature"], manifest["self_judged"]) == (
        "scripted/judge",
        0.0,
        False,
    )
    assert manifest["result"]["crr"] == 0.6 and manifest["usage"]["calls"] == 20


def test_a_judge_equal_to_strong_is_refused_before_anything_is_written(script, tmp_path):
    with pytest.raises(
        SelfJudgedError, match=r"judge \(scripted/strong\) is also the strong model.*--self-judged"
    ):
        run_crr(config(judge=None), benchmark(tmp_path), tmp_path / "eval")
    assert not (tmp_path / "eval").exists() and not script.calls
    out = CliRunner().invoke(
        app,
        [
            "eval",
            "crr",
            "--config",
            str(write_config(tmp_path, "")),
            "--benchmark",
            str(benchmark(tmp_path)),
            "--out",
            str(tmp_path / "eval"),
            "--quiet",
        ],
    )
    assert out.exit_code == 2 and "--self-judged" in out.output and "Traceback" not in out.output
    assert len(out.output.strip().splitlines()) == 1 and not (tmp_path / "eval").exists()


def test_self_judged_runs_when_asked_and_says_so(script, tmp_path):
    script.handlers["evaluate"] = evaluate
    args = [
        "eval",
        "crr",
        "--config",
        str(write_config(tmp_path, "")),
        "--benchmark",
        str(benchmark(tmp_path)),
        "--out",
        str(tmp_path / "eval"),
        "--quiet",
        "--self-judged",
    ]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "self-judged: the judge is also the strong model" in out.output
    assert "judge scripted/strong at temperature 0.0 (self-judged)" in out.output
    assert {role for role, _ in script.steps("evaluate")} == {"strong"}
    manifest = json.loads((tmp_path / "eval" / "manifest.json").read_text())
    assert manifest["self_judged"] is True and manifest["self_judged_as"] == "strong"
    assert manifest["judge_temperature"] == 0.0


def test_failures_are_reported_and_counted_both_ways(script, tmp_path):
    def flaky(role, inputs, params):
        return "no scores here" if "equal" in inputs["instruction"] else evaluate(role, inputs, params)

    script.handlers["evaluate"] = flaky
    result = run_crr(config(), benchmark(tmp_path), tmp_path / "eval")
    assert result.excluded == crr(["win", "tie", "loss", "loss"])  # 2/4 = 50%
    assert result.as_losses == crr(["win", "tie", "loss", "loss", "loss"])  # 2/5 = 40%
    assert result.failed == 1 and result.failed_by_reason == {"parse_error": 1}
    (row,) = map(json.loads, (tmp_path / "eval" / "failed.jsonl").open())
    assert row["id"] == "equal" and row["reason"] == "parse_error" and row["raw"]
    manifest = json.loads((tmp_path / "eval" / "manifest.json").read_text())
    assert manifest["counts"] == {
        "judged": 4,
        "failed": 1,
        "failed_by_reason": {"parse_error": 1},
        "target_gated_by_reason": {},
    }
    assert manifest["result"]["crr"] == 0.5 and manifest["result_failures_as_losses"]["crr"] == 0.4
    assert manifest["result_failures_as_losses"]["total"] == 5


def test_gates_fail_a_bad_reference_and_mark_a_bad_target_answer(script, tmp_path):
    def respond(role, inputs, params):
        if role == "strong" and "loss-a" in inputs["instruction"]:
            return "I'm sorry, but I can't help with that."
        if role == "target" and "win" in inputs["instruction"]:
            return "  "  # empty, even when asked again
        return f"{role.upper()} answer"

    def judge_empty_low(role, inputs, params):
        if inputs["answer_1"] and inputs["answer_2"]:
            return evaluate(role, inputs, params)
        return {
            "score_1": 1 if not inputs["answer_1"] else 8,
            "score_2": 1 if not inputs["answer_2"] else 8,
            "explanation": "an empty answer helps nobody",
        }

    script.handlers.update(respond=respond, evaluate=judge_empty_low)
    result = run_crr(config(), benchmark(tmp_path), tmp_path / "eval")
    assert result.failed_by_reason == {"refusal": 1}
    (row,) = map(json.loads, (tmp_path / "eval" / "failed.jsonl").open())
    assert (row["id"], row["reason"], row["stage"]) == ("loss-a", "refusal", "strong_answer")
    assert row["strong_response"].startswith("I'm sorry") and row["target_response"] == "TARGET answer"
    assert not any("loss-a" in i["instruction"] for _, i in script.steps("evaluate"))  # never judged
    rows = {r["id"]: r for r in map(json.loads, (tmp_path / "eval" / "verdicts.jsonl").open())}
    assert rows["win"]["target_gate"]["reason"] == "empty_response" and rows["win"]["verdict"] == "loss"
    manifest = json.loads((tmp_path / "eval" / "manifest.json").read_text())
    assert manifest["counts"]["target_gated_by_reason"] == {"empty_response": 1}
    assert (result.excluded.total, result.as_losses.total, result.as_losses.losses) == (4, 5, 3)


def test_a_finished_evaluation_rerun_makes_no_calls(script, tmp_path):
    script.handlers["evaluate"] = evaluate
    first = run_crr(config(), benchmark(tmp_path), tmp_path / "eval")
    made = len(script.calls)
    again = run_crr(config(), benchmark(tmp_path), tmp_path / "eval")
    assert again == first and len(script.calls) == made


def test_another_evaluator_cannot_resume_the_directory(script, tmp_path):
    script.handlers["evaluate"] = evaluate
    run_crr(config(), benchmark(tmp_path), tmp_path / "eval", limit=1)
    other = Evaluator()
    other.evaluate.signature = other.evaluate.signature.with_instructions("Score both answers.")
    with pytest.raises(RunDirError, match="different evaluator"):
        run_crr(config(), benchmark(tmp_path), tmp_path / "eval", limit=1, judge=other)


def test_cli_prints_both_crrs_and_the_judge(script, tmp_path):
    script.handlers["evaluate"] = evaluate
    args = [
        "eval",
        "crr",
        "--config",
        str(write_config(tmp_path)),
        "--benchmark",
        str(benchmark(tmp_path)),
        "--out",
        str(tmp_path / "eval"),
        "--limit",
        "3",
        "--quiet",
    ]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert "CRR, failures excluded:   W/T/L 1/0/2 of 3: CRR 33.33% (95% CI" in out.output
    assert "CRR, failures as losses:  W/T/L 1/0/2 of 3: CRR 33.33% (95% CI" in out.output
    assert "judge scripted/judge at temperature 0.0;" in out.output and "self-judged" not in out.output


def test_cli_rejects_a_missing_benchmark_in_one_line(script, tmp_path):
    args = [
        "eval",
        "crr",
        "--config",
        str(write_config(tmp_path)),
        "--benchmark",
        str(tmp_path / "nope.jsonl"),
        "--out",
        str(tmp_path / "eval"),
    ]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 2 and "cannot read benchmark" in out.output
    assert "Traceback" not in out.output and not (tmp_path / "eval").exists()


def test_a_budget_stop_resumes_to_the_same_result(script, tmp_path):
    script.handlers["evaluate"] = evaluate
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
