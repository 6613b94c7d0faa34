"""dataset/ is written in one streaming pass, and datasets reads it back as kept.jsonl.

``dataset_files.py`` writes save_to_disk's layout itself (the Arrow shard,
``dataset_info.json``, ``state.json``) and the parquet copy beside it, a batch
at a time; what a user relies on is that ``load_from_disk`` and the parquet
file give exactly kept.jsonl's rows, typed, for any size, empty included,
and that saving again replaces an earlier session's folder.
"""

import json

import datasets
import pyarrow.parquet as pq
import pytest

from codeclm_dspy.errors import RunDirError
from codeclm_dspy.runs import dataset_files
from codeclm_dspy.runs.run_dir import kept_features

PARQUET = "data/train-00000-of-00001.parquet"


def row(n: int) -> dict:
    return {
        "id": f"m{n:04d}-000",
        "instruction": f"Instruction {n}: plan a trip with a budget of {n} euros",
        "response": "Day 1: " + "walk, " * (n % 7) + "rest.",
        "messages": [{"role": "user", "content": f"Instruction {n}"}, {"role": "assistant", "content": "ok"}],
        "source": "strong" if n % 2 else "target",
        "iteration": 1 + n % 3,
        "gap": 2.5 + n,
        "strong_score": 9.0,
        "target_score": 6.5 - n % 2,
        "judge_scores": {
            "strong_first": {"strong": 9, "target": 6},
            "target_first": {"strong": 9, "target": 7},
        },
        "use_case": "trip planning",
        "skills": ["budgeting", "geography"][: 1 + n % 2],
        "actions": [] if n % 2 else ["add a constraint"],
        "basic_instruction": f"Instruction {n}",
        "metadata_id": f"m{n:04d}",
        "seed_ids": ["s1", "s2"],
    }


def write_kept(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_rows_read_back_exactly_from_both_files_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_files, "BATCH_ROWS", 3)  # 10 rows: four batches
    rows = [row(n) for n in range(10)]
    write_kept(tmp_path / "kept.jsonl", rows)
    dataset_files.write_dataset(tmp_path / "kept.jsonl", tmp_path / "dataset", kept_features(), PARQUET)
    saved = datasets.load_from_disk(str(tmp_path / "dataset"))
    assert saved.features == kept_features() and str(saved.split) == "train"
    assert saved.to_list() == rows
    parquet = datasets.Dataset.from_parquet(str(tmp_path / "dataset" / PARQUET))
    assert parquet.features == kept_features() and parquet.to_list() == rows
    info = json.loads((tmp_path / "dataset" / "dataset_info.json").read_text())
    assert info["splits"]["train"]["num_examples"] == 10


def test_no_kept_pairs_still_saves_a_typed_empty_dataset(tmp_path):
    write_kept(tmp_path / "kept.jsonl", [])
    dataset_files.write_dataset(tmp_path / "kept.jsonl", tmp_path / "dataset", kept_features(), PARQUET)
    saved = datasets.load_from_disk(str(tmp_path / "dataset"))
    assert len(saved) == 0 and saved.features == kept_features()
    table = pq.read_table(tmp_path / "dataset" / PARQUET)  # datasets' parquet reader refuses 0 rows
    assert table.num_rows == 0 and datasets.Features.from_arrow_schema(table.schema) == kept_features()


def test_saving_again_replaces_an_earlier_folder_and_the_fingerprint_follows_the_rows(tmp_path):
    write_kept(tmp_path / "kept.jsonl", [row(n) for n in range(6)])
    dataset_files.write_dataset(tmp_path / "kept.jsonl", tmp_path / "dataset", kept_features(), PARQUET)
    (tmp_path / "dataset" / "README.md").write_text("an earlier session's card")
    first = datasets.load_from_disk(str(tmp_path / "dataset"))._fingerprint
    write_kept(tmp_path / "kept.jsonl", [row(n) for n in range(2)])
    dataset_files.write_dataset(tmp_path / "kept.jsonl", tmp_path / "dataset", kept_features(), PARQUET)
    saved = datasets.load_from_disk(str(tmp_path / "dataset"))
    assert saved.to_list() == [row(0), row(1)] and saved._fingerprint != first
    assert not (tmp_path / "dataset" / "README.md").exists()  # the run writes the new card after the save
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "kept.jsonl"]  # no scratch left behind


@pytest.mark.parametrize("bad", ['{"id": "m0001-000", "instruction": ', '["not", "a", "row"]'])
def test_a_broken_line_is_named_and_the_earlier_dataset_is_kept(tmp_path, bad):
    write_kept(tmp_path / "kept.jsonl", [row(0)])
    dataset_files.write_dataset(tmp_path / "kept.jsonl", tmp_path / "dataset", kept_features(), PARQUET)
    (tmp_path / "kept.jsonl").write_text(json.dumps(row(1)) + "\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(RunDirError, match=r"kept\.jsonl line 2"):
        dataset_files.write_dataset(tmp_path / "kept.jsonl", tmp_path / "dataset", kept_features(), PARQUET)
    assert datasets.load_from_disk(str(tmp_path / "dataset")).to_list() == [row(0)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "kept.jsonl"]


def test_a_save_killed_between_its_renames_is_cleaned_up_by_the_next(tmp_path):
    write_kept(tmp_path / "kept.jsonl", [row(0)])
    dataset_files.write_dataset(tmp_path / "kept.jsonl", tmp_path / "dataset", kept_features(), PARQUET)
    (tmp_path / "dataset").rename(tmp_path / ".dataset-old")  # killed after the first rename
    dataset_files.write_dataset(tmp_path / "kept.jsonl", tmp_path / "dataset", kept_features(), PARQUET)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "kept.jsonl"]
