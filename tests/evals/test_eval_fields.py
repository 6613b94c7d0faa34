"""Benchmarks of other shapes: a ``prompt`` field, MT-Bench's ``turns``, through split, generate, compare, crr."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from codeclm_dspy.generate import generate
from codeclm_dspy.seeds import load_seeds
from evals.benchmarks import BenchmarkError, load_benchmark
from tests import scripted
from tests.evals.test_compare import BagOfWords, make_run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval_fields"
PROMPTS, TURNS = FIXTURES / "prompts.jsonl", FIXTURES / "turns.jsonl"
TURN_FIELDS = ["--instruction-field", "turns", "--id-field", "question_id"]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def invoke(*args: str):
    out = CliRunner().invoke(app, ["eval", *args])
    assert "Traceback" not in out.output, out.output
    return out


def test_a_turns_field_gives_its_first_turn_and_the_first_reference():
    items = load_benchmark(TURNS, instruction_field="turns", id_field="question_id")
    raw = rows(TURNS)
    assert [i.id for i in items] == [str(r["question_id"]) for r in raw]
    assert [i.text for i in items] == [r["turns"][0] for r in raw]
    assert items[1].reference == "3 hours 25 minutes" and items[0].reference == ""
    assert items[1].category == "math"


def test_a_missing_field_names_the_fields_there_are_and_the_option():
    with pytest.raises(BenchmarkError) as err:
        load_benchmark(PROMPTS)
    message = str(err.value)
    assert "has no 'instruction' field (fields: id, prompt)" in message and "--instruction-field" in message
    with pytest.raises(
        BenchmarkError,
        match=r"no 'qid' field \(fields: question_id, category, turns, reference\).*--id-field",
    ):
        load_benchmark(TURNS, instruction_field="turns", id_field="qid")
    out = invoke("split", "--benchmark", str(PROMPTS), "--out", "unused")
    assert out.exit_code == 2 and len(out.output.strip().splitlines()) == 1
    assert "fields: id, prompt" in out.output and "--instruction-field" in out.output


@pytest.mark.parametrize(
    ("source", "fields"), [(PROMPTS, ["--instruction-field", "prompt"]), (TURNS, TURN_FIELDS)]
)
def test_split_writes_the_usual_shape_that_generate_reads_with_defaults(script, tmp_path, source, fields):
    out = invoke("split", "--benchmark", str(source), "--out", str(tmp_path / "split"), *fields)
    assert out.exit_code == 0, out.output
    seeds, heldout = rows(tmp_path / "split" / "seeds.jsonl"), rows(tmp_path / "split" / "heldout.jsonl")
    assert (len(seeds), len(heldout)) == (2, 8)
    assert all(set(r) == {"id", "instruction", "category", "reference"} for r in seeds + heldout)
    texts = {r["id"]: r["instruction"] for r in seeds + heldout}
    raw = {
        str(r.get("id", r.get("question_id"))): r.get("prompt") or r.get("turns", [""])[0]
        for r in rows(source)
    }
    assert texts == raw
    assert [s.id for s in load_seeds(tmp_path / "split" / "seeds.jsonl")] == [r["id"] for r in seeds]

    script.handlers["judge"] = lambda role, i, p: (  # the strong answer is clearly better: kept
        {"score_1": 9, "score_2": 3} if i["answer_1"] == "STRONG answer" else {"score_1": 3, "score_2": 9}
    )
    config = scripted.config(pipeline={"metadata_pool_size": 4, "num_instructions": 4, "max_iterations": 1})
    dataset = generate(config, tmp_path / "split" / "seeds.jsonl", tmp_path / "run")
    encoded = {i["instruction"] for _, i in script.steps("encode")}
    assert encoded == {r["instruction"] for r in seeds}  # the benchmark's own texts were the seeds
    assert len(dataset) > 0 and set().union(*dataset["seed_ids"]) <= {r["id"] for r in seeds}


@pytest.mark.parametrize(
    ("source", "fields"), [(PROMPTS, ["--instruction-field", "prompt"]), (TURNS, TURN_FIELDS)]
)
def test_compare_reads_the_held_out_part_and_raw_sets_by_the_named_field(
    tmp_path, monkeypatch, source, fields
):
    monkeypatch.setattr("evals.embeddings.Embedder", lambda name: BagOfWords())
    assert (
        invoke("split", "--benchmark", str(source), "--out", str(tmp_path / "split"), *fields).exit_code == 0
    )
    heldout = rows(tmp_path / "split" / "heldout.jsonl")
    leaked = heldout[0]["instruction"]
    run = make_run(tmp_path, "codeclm", [leaked, "an unrelated instruction about kites"])
    # the split's held-out part has the usual fields: no option needed
    out = invoke(
        "compare",
        str(run),
        "--against",
        str(tmp_path / "split" / "heldout.jsonl"),
        "--out",
        str(tmp_path / "a"),
    )
    assert out.exit_code == 0, out.output
    report = json.loads((tmp_path / "a" / "comparison.json").read_text())
    assert report["settings"]["heldout"]["size"] == 8 and report["rows"][0]["contaminated_exact"] == 1
    # the raw benchmark as the target and as an eval set, read by the named field
    out = invoke(
        "compare",
        str(run),
        "--against",
        str(source),
        "--eval-set",
        f"raw={source}",
        "--out",
        str(tmp_path / "b"),
        *fields,
    )
    assert out.exit_code == 0, out.output
    report = json.loads((tmp_path / "b" / "comparison.json").read_text())
    assert report["settings"]["eval_sets"]["raw"]["size"] == 10
    assert report["rows"][0]["contaminated_by_set"] == {"heldout": 1, "raw": 1}
    flag = next(f for f in report["flags"]["codeclm"] if f["eval_set"] == "raw")
    assert flag["eval_id"] == heldout[0]["id"]  # ids come from the named id field
    out = invoke("compare", str(run), "--against", str(source), "--out", str(tmp_path / "c"))
    assert out.exit_code == 2 and "--instruction-field" in out.output


def crr_config(tmp_path: Path, benchmark_section: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "models:\n  strong: {model: scripted/strong}\n  target: {model: scripted/target}\n"
        f"  judge: {{model: scripted/judge}}\nengine: {{workers: 2, cache: false}}\n{benchmark_section}"
    )
    return path


def test_crr_reads_the_named_field_from_the_flag_or_the_config(script, tmp_path):
    script.handlers["evaluate"] = lambda role, i, p: {"score_1": 5, "score_2": 5, "explanation": "even"}
    base = ["crr", "--benchmark", str(TURNS), "--limit", "3", "--quiet"]
    out = invoke(*base, "--config", str(crr_config(tmp_path)), "--out", str(tmp_path / "e1"), *TURN_FIELDS)
    assert out.exit_code == 0, out.output
    verdicts = rows(tmp_path / "e1" / "verdicts.jsonl")
    assert [v["id"] for v in verdicts] == ["200", "201", "202"]
    assert verdicts[0]["instruction"] == rows(TURNS)[0]["turns"][0]
    section = "benchmark: {instruction_field: turns, id_field: question_id}\n"
    out = invoke(*base, "--config", str(crr_config(tmp_path, section)), "--out", str(tmp_path / "e2"))
    assert out.exit_code == 0, out.output
    assert rows(tmp_path / "e2" / "verdicts.jsonl") == verdicts
    # a flag overrides the config: this file has a prompt field, not turns
    out = invoke(
        "crr",
        "--benchmark",
        str(PROMPTS),
        "--limit",
        "2",
        "--quiet",
        "--config",
        str(crr_config(tmp_path, section)),
        "--out",
        str(tmp_path / "e3"),
        "--instruction-field",
        "prompt",
        "--id-field",
        "id",
    )
    assert out.exit_code == 0, out.output
    assert [v["id"] for v in rows(tmp_path / "e3" / "verdicts.jsonl")] == ["p01", "p02"]
    out = invoke(
        "crr",
        "--benchmark",
        str(PROMPTS),
        "--config",
        str(crr_config(tmp_path, section)),
        "--out",
        str(tmp_path / "e4"),
    )
    assert out.exit_code == 2 and "no 'turns' field (fields: id, prompt)" in out.output
    assert not (tmp_path / "e4").exists()
