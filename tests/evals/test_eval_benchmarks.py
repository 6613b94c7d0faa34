"""Reading benchmarks and the seeded 20/80 split."""

import json
from pathlib import Path

import pytest

from evals.benchmarks import BenchmarkError, as_seeds, load_benchmark, split

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_and_csv_read_the_same_items(tmp_path):
    rows = [
        {"id": f"q{i}", "instruction": f"Question {i}?", "input": "context" if i == 2 else ""}
        for i in range(5)
    ]
    items = load_benchmark(write_jsonl(tmp_path / "b.jsonl", rows))
    (tmp_path / "b.csv").write_text(
        "id,instruction,input\n" + "".join(f"{r['id']},{r['instruction']},{r['input']}\n" for r in rows)
    )
    assert items == load_benchmark(tmp_path / "b.csv")
    assert [i.id for i in items] == ["q0", "q1", "q2", "q3", "q4"]
    assert items[2].text == "Question 2?\n\ncontext"  # an input is appended
    assert as_seeds(items)[0].instruction == "Question 0?"


def test_split_is_seeded_disjoint_and_twenty_percent(tmp_path):
    rows = [{"id": f"q{i}", "instruction": f"Question {i}?"} for i in range(80)]
    items = load_benchmark(write_jsonl(tmp_path / "b.jsonl", rows))
    seeds, evals = split(items, 0.2, seed=3)
    assert (len(seeds), len(evals)) == (16, 64)
    assert {i.id for i in seeds}.isdisjoint({i.id for i in evals})
    assert split(items, 0.2, seed=3) == (seeds, evals)
    assert split(items, 0.2, seed=4)[0] != seeds


def test_bad_benchmarks_get_one_clear_error(tmp_path):
    with pytest.raises(BenchmarkError, match="no 'prompt' field"):
        load_benchmark(
            write_jsonl(tmp_path / "b.jsonl", [{"id": "a", "instruction": "x"}]), instruction_field="prompt"
        )
    with pytest.raises(BenchmarkError, match="repeats the id 'a'"):
        load_benchmark(write_jsonl(tmp_path / "c.jsonl", [{"id": "a", "instruction": "x"}] * 2))
    with pytest.raises(BenchmarkError, match="cannot read benchmark"):
        load_benchmark(tmp_path / "missing.jsonl")


@pytest.mark.skipif(
    not (SHARED / "vicuna" / "vicuna.jsonl").exists(), reason="../shared/data is not beside the repo"
)
def test_vicuna_splits_as_in_the_paper():
    items = load_benchmark(SHARED / "vicuna" / "vicuna.jsonl")
    seeds, evals = split(items, 0.2, seed=0)
    assert (len(items), len(seeds), len(evals)) == (80, 16, 64)


def test_eval_split_reports_bad_input_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from codeclm_dspy.cli import app

    good = tmp_path / "bench.jsonl"
    good.write_text("".join(f'{{"id": {n}, "instruction": "Question number {n}"}}\n' for n in range(10)))
    numeric = tmp_path / "numeric.jsonl"
    numeric.write_text('{"instruction": 5}\n')
    cases = [
        (
            ["--benchmark", str(good), "--out", str(tmp_path / "a"), "--seed-fraction", "1.5"],
            "between 0 and 1",
        ),
        (["--benchmark", str(numeric), "--out", str(tmp_path / "b")], "'instruction' is not text"),
        (["--benchmark", str(good), "--out", str(good / "sub")], "cannot write to"),
    ]
    for args, message in cases:
        out = CliRunner().invoke(app, ["eval", "split", *args])
        assert out.exit_code == 2 and message in out.output and "Traceback" not in out.output, out.output
    out = CliRunner().invoke(app, ["eval", "split", "--benchmark", str(good), "--out", str(tmp_path / "ok")])
    assert out.exit_code == 0
    seeds = [json.loads(line) for line in (tmp_path / "ok" / "seeds.jsonl").open()]
    assert len(seeds) == 2 and {s["id"] for s in seeds} <= {str(n) for n in range(10)}  # id 0 is kept as "0"
    again = CliRunner().invoke(
        app, ["eval", "split", "--benchmark", str(good), "--out", str(tmp_path / "ok")]
    )
    assert again.exit_code == 2 and "already exists" in again.output
