"""End to end on the real embedded models: llama.cpp in-process, real LiteLLM
routing. Slow (about four minutes on 2 cores); deselect with -m "not embedded"."""

import json
from pathlib import Path

import datasets
import pytest
import yaml
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from codeclm_dspy.pipeline.program import CodecLM

ROOT = Path(__file__).resolve().parents[1]
SEEDS = [json.loads(line) for line in (ROOT / "examples" / "seeds.jsonl").open()][:3]
KEPT_FIELDS = {
    "instruction",
    "response",
    "messages",
    "source",
    "iteration",
    "gap",
    "judge_scores",
    "use_case",
    "skills",
    "actions",
    "seed_ids",
}


def small_config(models: dict) -> dict:
    return {
        "models": models,
        "pipeline": {
            "metadata_pool_size": 2,
            "num_instructions": 2,
            "num_rubrics": 2,
            "max_iterations": 2,
            "threshold": 0.0,
            # bounded tries: the 135M decoder mostly writes non-instructions
            "max_decode_rounds": 4,
            "max_overdraw": 2.0,
        },
        "engine": {"workers": 2, "cache": False},
        "random_seed": 1,
    }


def generate(tmp_path: Path, config: dict) -> Path:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    with (tmp_path / "seeds.jsonl").open("w") as handle:
        for seed in SEEDS:
            handle.write(json.dumps(seed) + "\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--config",
            str(tmp_path / "config.yaml"),
            "--seeds",
            str(tmp_path / "seeds.jsonl"),
            "--out",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def check_run(out: Path) -> dict:
    """The run directory of a finished run, its accounting and its rows' schema.

    On the 135M/270M models the quality gates often leave nothing to keep
    (most decoded text is not an instruction, many answers run out of
    tokens), so the run must reach Contrastive Filtering, account for every
    item with a reason, and keep only rows the gates pass; a kept pair is
    not required.
    """
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["accounting"]["balanced"]
    assert manifest["usage"]["calls"] > 0  # real calls, not cache hits
    assert set(manifest["parse_failures"]) >= {"encode", "decode", "judge"}
    kept = [json.loads(line) for line in (out / "kept.jsonl").open()]
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").open()]
    judged = manifest["counts"]["iterations"][0]["judged"]
    assert judged > 0, f"no instruction reached Contrastive Filtering; rejected: {rejected}"
    assert all(r["reason"] for r in rejected)
    gates = CodecLM().gates()
    for row in kept:  # nothing broken is kept
        assert gates.answer(row["response"]) is None and gates.instruction(row["instruction"]) is None, row
    seed_ids = {s["id"] for s in SEEDS}
    for row in kept:
        assert set(row) >= KEPT_FIELDS
        assert row["source"] in {"strong", "target"} and 1 <= row["iteration"] <= 2
        assert abs(row["gap"]) > 0.0
        assert set(row["judge_scores"]) == {"strong_first", "target_first"}
        assert row["messages"][0] == {"role": "user", "content": row["instruction"]}
        assert row["messages"][1]["content"] == row["response"]
        assert row["use_case"] and 1 <= len(row["skills"]) <= 3
        assert set(row["seed_ids"]) <= seed_ids and row["seed_ids"]
        assert len(row["actions"]) == row["iteration"] - 1
    assert len(datasets.load_from_disk(str(out / "dataset"))) == len(kept)
    return manifest


@pytest.mark.embedded
def test_embedded_models_end_to_end(tmp_path):
    manifest = check_run(
        generate(
            tmp_path,
            small_config(
                {
                    "strong": {"model": "embedded/smollm2-135m-instruct", "max_tokens": 256},
                    "target": {"model": "embedded/gemma3-270m", "max_tokens": 96},
                    "judge": {
                        "model": "embedded/smollm2-135m-instruct",
                        "temperature": 0.8,
                        "max_tokens": 32,
                    },
                }
            ),
        )
    )
    assert manifest["models"]["target"]["model"] == "embedded/gemma3-270m"
    assert manifest["usage"]["usd"] == 0.0
