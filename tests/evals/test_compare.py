"""Comparing run directories: metrics per run, leaks, decontamination, cost, reports."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from codeclm_dspy.errors import CodecLMError
from evals.compare import METRICS, CompareError, compare, load_run
from evals.report import print_table, to_markdown, write_report


class BagOfWords:
    """Bag of words, one dimension per word: shared words are the only similarity.

    A test double for ``evals.embeddings.Embedder``: a text and a copy with one
    word added out of n have cosine sqrt(n / (n + 1)); texts with no word in
    common have cosine exactly 0 (a vocabulary, not hashing, so no collisions).
    """

    model = "bag-of-words"

    def __init__(self, dim: int = 512):
        self.dim, self.vocab, self.calls = dim, {}, 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, self.vocab.setdefault(word, len(self.vocab))] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


def words(topic: str, n: int = 10) -> str:
    """n words no other topic shares, so topics are orthogonal under BagOfWords."""
    return " ".join(f"{topic}{k}" for k in range(n))


HELDOUT = {f"h{i}": words(t) for i, t in enumerate(["alpha", "bravo", "charlie", "delta"])}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_run(
    root: Path,
    name: str,
    instructions: list[str],
    *,
    method: str | None = None,
    status: str = "complete",
    calls: int = 40,
    tokens: int = 8000,
    usd: float | None = 0.2,
) -> Path:
    run = root / name
    run.mkdir()
    write_jsonl(
        run / "kept.jsonl",
        [
            {"id": f"{name}-{i:03d}", "instruction": text, "response": "ok"}
            for i, text in enumerate(instructions)
        ],
    )
    kept = len(instructions)
    per = None
    if kept:
        per = {"calls": calls / kept, "tokens": tokens / kept, "usd": None if usd is None else usd / kept}
    manifest = {
        "status": status,
        "method": method or name,
        "kept": kept,
        "config": {},
        "models": {},
        "usage": {"calls": calls, "cache_hits": 0, "tokens": tokens, "usd": usd, "steps": {}},
        "cost_funnel": {"kept": kept, "per_kept_pair": per},
    }
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


@pytest.fixture
def heldout(tmp_path):
    return write_jsonl(tmp_path / "heldout.jsonl", [{"id": k, "instruction": v} for k, v in HELDOUT.items()])


def near(text: str) -> str:
    return text + " extra"  # cosine sqrt(10/11) = 0.953 with the original


def test_coverage_precision_and_one_encode_call(tmp_path, heldout):
    # near copies of two held-out items of four, plus two off-distribution rows
    run = make_run(
        tmp_path, "codeclm", [near(HELDOUT["h0"]), near(HELDOUT["h1"]), words("echo"), words("fox")]
    )
    embedder = BagOfWords()
    result = compare([run], heldout, embedder=embedder, contamination_threshold=0.99)
    row = result.rows[0]
    assert embedder.calls == 1
    assert row["coverage"] == 0.5 and row["precision"] == 0.5
    assert row["mean_nn_similarity"] == pytest.approx((2 * np.sqrt(10 / 11)) / 4, abs=1e-3)
    assert row["distinct_1"] == pytest.approx(41 / 42, abs=1e-4)  # "extra" appears twice
    assert row["near_duplicate_rate"] == 0.0 and row["contaminated"] == 0
    assert result.settings["heldout"]["size"] == 4 and result.settings["embedder"] == "bag-of-words"


def test_contamination_catches_exact_and_near_copies_in_every_eval_set(tmp_path, heldout):
    other = write_jsonl(tmp_path / "mt.jsonl", [{"id": "m1", "instruction": words("golf")}])
    texts = [HELDOUT["h2"].upper(), near(HELDOUT["h3"]), words("golf"), words("hotel")]
    run = make_run(tmp_path, "leaky", texts)
    result = compare([run], heldout, embedder=BagOfWords(), eval_sets={"mtbench": other})
    flags = {(f["id"], f["eval_set"], f["eval_id"], f["kind"]) for f in result.flags["leaky"]}
    assert flags == {
        ("leaky-000", "heldout", "h2", "exact"),
        ("leaky-001", "heldout", "h3", "near"),
        ("leaky-002", "mtbench", "m1", "exact"),
    }
    row = result.rows[0]
    assert (row["contaminated"], row["contaminated_exact"], row["contaminated_near"]) == (3, 2, 1)
    assert row["contaminated_by_set"] == {"heldout": 2, "mtbench": 1}
    assert row["removed"] is None and row["evaluated"] == 4
    assert sorted(p.name for p in run.iterdir()) == ["kept.jsonl", "manifest.json"]  # nothing written
    with pytest.raises(CompareError, match="taken by the held-out set"):
        compare([run], heldout, embedder=BagOfWords(), eval_sets={"heldout": other})


def test_remove_contaminated_writes_new_files_and_measures_the_clean_rows(tmp_path, heldout):
    texts = [HELDOUT["h0"], near(HELDOUT["h1"]), words("india"), words("india")]
    run = make_run(tmp_path, "codeclm", texts)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    row = compare([run], heldout, embedder=BagOfWords(), remove_contaminated=True).rows[0]
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.name in before} == before
    cleaned = [json.loads(line) for line in (run / "kept.decontaminated.jsonl").read_text().splitlines()]
    assert [r["id"] for r in cleaned] == ["codeclm-002", "codeclm-003"]
    assert cleaned[0] == json.loads((run / "kept.jsonl").read_text().splitlines()[2])  # rows kept whole
    flags = json.loads((run / "contamination.json").read_text())
    assert [(f["index"], f["id"], f["kind"]) for f in flags] == [
        (0, "codeclm-000", "exact"),
        (1, "codeclm-001", "near"),
    ]
    assert set(flags[0]) == {"index", "id", "eval_set", "eval_id", "kind", "similarity"}
    assert (row["kept"], row["removed"], row["evaluated"]) == (4, 2, 2)
    # only the two identical off-distribution rows remain: no coverage, all duplicates
    assert row["coverage"] == 0.0 and row["near_duplicate_rate"] == 1.0


def test_cost_per_kept_pair_comes_from_the_manifest_and_labels_stay_unique(tmp_path, heldout):
    a = make_run(tmp_path, "a", [words("juliet"), words("kilo")], method="codeclm", calls=50, usd=0.5)
    b = make_run(tmp_path, "b", [words("lima")], method="codeclm", calls=9, tokens=300, usd=None)
    rows = compare([a, b], heldout, embedder=BagOfWords()).rows
    assert [r["method"] for r in rows] == ["codeclm (a)", "codeclm (b)"]
    assert (rows[0]["calls_per_kept"], rows[0]["usd_per_kept"], rows[0]["tokens_per_kept"]) == (
        25,
        0.25,
        4000,
    )
    assert (rows[1]["calls_per_kept"], rows[1]["usd_per_kept"], rows[1]["usd"]) == (9, None, None)


def test_a_stopped_run_is_compared_and_flagged_with_costs_derived(tmp_path, heldout):
    run = make_run(tmp_path, "stopped", [words("mike"), words("nov")], status="stopped", calls=10)
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["cost_funnel"]  # a stopped run's manifest has no funnel
    (run / "manifest.json").write_text(json.dumps(manifest))
    row = compare([run], heldout, embedder=BagOfWords()).rows[0]
    assert row["status"] == "stopped" and row["calls_per_kept"] == 5
    assert load_run(run).instructions == [words("mike"), words("nov")]


def test_zero_kept_pairs_give_none_metrics(tmp_path, heldout):
    empty = make_run(tmp_path, "empty", [])
    row = compare([empty], heldout, embedder=BagOfWords()).rows[0]
    assert row["kept"] == 0 and row["coverage"] is None and row["distinct_2"] is None
    assert row["calls_per_kept"] is None and row["contamination_rate"] is None and row["contaminated"] == 0
    assert "n/a" in to_markdown(compare([empty], heldout, embedder=BagOfWords()))


def test_bad_run_directories_give_one_clear_line(tmp_path):
    with pytest.raises(CompareError, match="does not exist"):
        load_run(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(CompareError, match=r"not a codeclm run directory \(no manifest.json\)"):
        load_run(tmp_path / "plain")
    run = make_run(tmp_path, "broken", [words("oscar")])
    with (run / "kept.jsonl").open("a") as f:
        f.write('{"id": "x", "instruction": \n')
    with pytest.raises(CompareError, match=r"kept.jsonl line 2, column \d+: not valid JSON") as err:
        load_run(run)
    assert err.value.exit_code == 2 and "\n" not in str(err.value)
    (run / "kept.jsonl").write_text('{"id": "x"}\n')
    with pytest.raises(CompareError, match="line 1: not a row with an 'instruction'"):
        load_run(run)
    (run / "manifest.json").write_text("{not json")
    with pytest.raises(CompareError, match=r"manifest.json line 1, column \d+: not valid JSON"):
        load_run(run)


def test_write_report_writes_json_markdown_and_png(tmp_path, heldout, capsys):
    runs = [make_run(tmp_path, m, [near(HELDOUT["h0"]), words(m)]) for m in ("codeclm", "self-instruct")]
    runs.append(make_run(tmp_path, "evol-instruct", []))
    result = compare(runs, heldout, embedder=BagOfWords())
    paths = write_report(result, tmp_path / "report")
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(paths["json"].read_text())["rows"][0]["method"] == "codeclm"
    table = [line for line in paths["md"].read_text().splitlines() if line.startswith("| ")]
    assert len(table) == 1 + 3  # the header row and one row per run
    assert table[1].startswith("| codeclm |") and "$0.1" in table[1]
    print_table(result)
    assert "self-instruct" in capsys.readouterr().out


def test_write_report_without_matplotlib_says_how_to_install_it(tmp_path, heldout, monkeypatch):
    result = compare([make_run(tmp_path, "codeclm", [words("papa")])], heldout, embedder=BagOfWords())
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(CodecLMError, match=r"scripts/setup\.sh evals"):
        write_report(result, tmp_path / "report")
    assert not (tmp_path / "report").exists()  # nothing half-written


TOPICS = ["quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"]


def sized_runs(root: Path) -> list[Path]:
    """Runs of 10, 6 and 3 rows; the big one repeats topics, so its diversity depends on the sample."""
    big = [words(TOPICS[k % 5]) + f" row{k}" for k in range(10)]
    return [
        make_run(root, "big", big),
        make_run(root, "mid", [words(t) for t in TOPICS[4:10]]),
        make_run(root, "small", [near(HELDOUT["h0"]), words("amber"), words("basalt")]),
        make_run(root, "none", []),
    ]


def test_runs_are_measured_at_equal_n_on_a_reproducible_sample(tmp_path, heldout):
    runs = sized_runs(tmp_path)
    result = compare(runs, heldout, embedder=BagOfWords())
    assert result.settings["equal_n"] == {"n": 3, "seed": 0}  # the empty run does not set N
    sizes = [(r["kept"], r["evaluated"], r["measured"]) for r in result.rows]
    assert sizes == [(10, 10, 3), (6, 6, 3), (3, 3, 3), (0, 0, 0)]
    assert [len(result.samples[m]) for m in ("big", "mid", "small", "none")] == [3, 3, 3, 0]
    assert result.samples["small"] == ["small-000", "small-001", "small-002"]
    # the metrics are those of a run holding exactly the sampled rows
    lines = {json.loads(line)["id"]: json.loads(line)["instruction"] for line in load_run(runs[0]).lines}
    alone = make_run(tmp_path, "alone", [lines[i] for i in result.samples["big"]])
    expected = compare([alone], heldout, embedder=BagOfWords(), equal_n=False).rows[0]
    assert {k: result.rows[0][k] for k in METRICS} == {k: expected[k] for k in METRICS}
    again = compare(runs, heldout, embedder=BagOfWords())
    assert again.samples == result.samples and again.rows == result.rows
    other = compare(runs, heldout, embedder=BagOfWords(), subsample_seed=1)
    assert other.settings["equal_n"] == {"n": 3, "seed": 1} and other.samples["big"] != result.samples["big"]
    assert other.samples["small"] == result.samples["small"]  # the smallest run is measured whole


def test_the_reports_say_equal_n_and_show_full_sizes_and_full_measures_everything(tmp_path, heldout, capsys):
    runs = sized_runs(tmp_path)
    result = compare(runs, heldout, embedder=BagOfWords(), subsample_seed=7)
    markdown = to_markdown(result)
    assert "at equal N = 3 (seeded subsample, seed 7)" in markdown and "each run's full size" in markdown
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[1] for row in table[1:]] == ["10", "6", "3", "0"]
    paths = write_report(result, tmp_path / "report")
    saved = json.loads(paths["json"].read_text())
    assert saved["settings"]["equal_n"] == {"n": 3, "seed": 7} and saved["rows"][0]["kept"] == 10
    print_table(result)
    assert "equal N = 3 (seeded subsample, seed 7)" in capsys.readouterr().out
    full = compare(runs, heldout, embedder=BagOfWords(), equal_n=False)
    assert full.settings["equal_n"] is None and full.samples == {}
    assert [r["measured"] for r in full.rows] == [10, 6, 3, 0]
    assert "Metrics on every kept row (full data" in to_markdown(full) and "equal N" not in to_markdown(full)
    assert full.rows[2] == result.rows[2]  # the smallest run: the same rows either way


def test_equal_n_counts_what_is_measured_after_decontamination(tmp_path, heldout):
    leaky = make_run(tmp_path, "leaky", [HELDOUT["h0"], HELDOUT["h1"], words("cobalt"), words("dune")])
    clean = make_run(tmp_path, "clean", [words(t) for t in TOPICS[:5]])
    result = compare([leaky, clean], heldout, embedder=BagOfWords(), remove_contaminated=True)
    assert result.settings["equal_n"]["n"] == 2
    assert [(r["kept"], r["evaluated"], r["measured"]) for r in result.rows] == [(4, 2, 2), (5, 5, 2)]
    assert result.rows[0]["contaminated"] == 2  # leaks are counted on every row, sampled or not


def test_cli_compare_takes_full_and_the_subsample_seed(tmp_path, heldout, monkeypatch):
    from typer.testing import CliRunner

    from codeclm_dspy.cli import app

    monkeypatch.setattr("evals.embeddings.Embedder", lambda name: BagOfWords())
    runs = [str(p) for p in sized_runs(tmp_path)]
    base = ["eval", "compare", *runs, "--against", str(heldout)]
    out = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a"), "--subsample-seed", "3"])
    assert out.exit_code == 0, out.output
    assert json.loads((tmp_path / "a" / "comparison.json").read_text())["settings"]["equal_n"] == {
        "n": 3,
        "seed": 3,
    }
    out = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "b"), "--full"])
    assert out.exit_code == 0, out.output
    assert json.loads((tmp_path / "b" / "comparison.json").read_text())["settings"]["equal_n"] is None
