"""``codeclm report`` on a real scripted run: what the page holds, where it may be written, and
that item text stays text."""

import json
import os
import re

import pytest
from typer.testing import CliRunner

from codeclm_dspy.cli import app
from codeclm_dspy.report import render, write_report
from codeclm_dspy.report.page import report_data
from tests.report.conftest import HOSTILE

DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def refused(args: list[str]) -> str:
    done = CliRunner().invoke(app, args)
    assert done.exit_code != 0 and "Traceback" not in done.output, done.output
    return done.output.strip()


def test_generate_writes_the_report_and_a_resumed_run_accepts_it(scripted_run, tmp_path):
    out, printed = scripted_run
    assert f"report: {out / 'report.html'}" in printed
    assert (out / "report.html").read_text().startswith("<!doctype html>\n<!-- codeclm report:")
    # the run directory with its report is still ours: generate resumes it and rewrites the report
    args = ["generate", "--config", str(tmp_path / "config.yaml"), "--seeds", str(tmp_path / "seeds.jsonl")]
    again = CliRunner().invoke(app, [*args, "--out", str(out), "-q", "--no-report"])
    assert again.exit_code == 0, again.output
    assert "report:" not in again.output


def test_the_run_page_data_agrees_with_the_manifest_and_rows(scripted_run):
    out, _ = scripted_run
    manifest = json.loads((out / "manifest.json").read_text())
    data = report_data(out)
    bars = {b["label"]: b["value"] for b in data["funnel"]}
    funnel = manifest["cost_funnel"]
    assert bars["seeds"] == funnel["seeds"] == 2 and bars["kept"] == funnel["kept"] == 2
    assert bars["basic instructions"] == funnel["basic_instructions"]
    assert bars["dropped (gap within θ)"] == funnel["dropped"] == 1
    rows = sum(1 for _ in (out / "kept.jsonl").open()) + sum(1 for _ in (out / "rejected.jsonl").open())
    assert len(data["items"]) == rows  # every row is browsable, none twice
    assert {r["reason"]: r["count"] for r in data["reasons"]} == funnel["not_kept_by_reason"]
    dropped = next(i for i in data["items"] if i["reason"] == "within_threshold")
    # both rounds of the dropped instruction: the rewrite, both answers, both orders, the gap
    assert [a["iteration"] for a in dropped["attempts"]] == [1, 2] and dropped["actions"]
    assert dropped["attempts"][1]["instruction"].endswith("(harder)")
    assert dropped["attempts"][0]["judge_scores"] == {
        "strong_first": {"strong": 5, "target": 5},
        "target_first": {"strong": 5, "target": 5},
    }
    assert sorted(data["gaps"]["1"]) == [0.0, 6.0, 6.0] and data["gaps"]["2"] == [0.0]
    assert data["threshold"] == 1.0 and {s["step"] for s in data["steps"]} >= {"judge", "decode", "encode"}
    kept = next(i for i in data["items"] if i["outcome"] == "kept" and i["instruction"] == HOSTILE)
    assert kept["source"] == "strong" and kept["attempts"][0]["strong_response"] == "STRONG answer"
    assert kept["seeds"] and all(s["id"] in ("s0", "s1") for s in kept["seeds"])
    # a kept pair shows its whole trajectory too: both answers of each round, not only the winner
    assert not kept["only_last_round"] and kept["attempts"][-1]["target_response"]
    assert (
        kept["attempts"][-1]["judge_scores"]
        == json.loads(next(line for line in (out / "kept.jsonl").open() if HOSTILE in line))["judge_scores"]
    )


def test_kept_trajectories_stay_out_of_the_dataset_and_the_item_counts(scripted_run):
    out, _ = scripted_run
    manifest = json.loads((out / "manifest.json").read_text())
    kept_rows = [json.loads(line) for line in (out / "kept.jsonl").open()]
    assert all("attempts" not in row for row in kept_rows)
    assert "trajectory" not in manifest["items"] and manifest["items"]["kept"] == len(kept_rows)


def test_markup_in_an_item_cannot_leave_the_data_block(scripted_run):
    out, _ = scripted_run
    page = render(out)
    assert HOSTILE not in page and "<script>alert" not in page
    assert page.count("</script>") == 2  # the data block's and the page script's, nothing else
    (block,) = DATA.findall(page)
    assert "<" not in block and HOSTILE in json.dumps(json.loads(block), ensure_ascii=False)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing fetched: it works offline
    assert 'http-equiv="Content-Security-Policy" content="default-src \'none\'' in page


def test_the_report_command_writes_beside_or_where_told(scripted_run, tmp_path):
    out, _ = scripted_run
    (out / "report.html").unlink()
    done = CliRunner().invoke(app, ["report", str(out)])
    assert done.exit_code == 0 and f"wrote {out / 'report.html'}" in done.output, done.output
    elsewhere = tmp_path / "pages" / "run.html"
    done = CliRunner().invoke(app, ["report", str(out), "--out", str(elsewhere)])
    assert done.exit_code == 0 and elsewhere.read_text() != "", done.output
    assert write_report(out, elsewhere) == elsewhere.resolve()  # an earlier report is replaced


def test_foreign_paths_are_refused_with_one_line(scripted_run, tmp_path):
    out, _ = scripted_run
    mine = tmp_path / "notes.html"
    mine.write_text("<p>my notes</p>")
    line = refused(["report", str(out), "--out", str(mine)])
    assert "is not a codeclm report" in line and mine.read_text() == "<p>my notes</p>"
    assert "does not exist" in refused(["report", str(tmp_path / "nowhere")])
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "kept.jsonl").write_text("{}\n")
    (folder / "thesis.docx").write_text("mine")
    assert "is not a codeclm run directory" in refused(["report", str(folder)])
    assert not (folder / "report.html").exists()
    plain = tmp_path / "plain"
    plain.mkdir()
    assert "is not a directory codeclm wrote" in refused(["report", str(plain)])
    (out / "kept.jsonl").write_text('{"id": "k"}\nnot json\n')
    assert f"{out / 'kept.jsonl'} line 2, column 1: not valid JSON" in refused(["report", str(out)])


def test_a_stopped_run_shows_its_unfinished_items(scripted_run):
    """A run stopped mid-way has items still running in state.sqlite and no funnel yet."""
    import sqlite3

    out, _ = scripted_run
    with sqlite3.connect(out / "state.sqlite") as conn:
        row = json.dumps(
            {"id": "x1", "instruction": "half done", "basic_instruction": "half", "attempts": []}
        )
        conn.execute(
            "INSERT INTO items VALUES (?, 'instruction', 'running', 'self_rubrics', 1, ?, 0)",
            ("instruction:x1", row),
        )
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["cost_funnel"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    data = report_data(out)
    unfinished = [i for i in data["items"] if i["outcome"] == "unfinished"]
    assert [i["id"] for i in unfinished] == ["x1"]
    assert {b["label"]: b["value"] for b in data["funnel"]}["unfinished"] == 1
    assert os.path.getsize(write_report(out)) > 0


@pytest.mark.parametrize("push", [False, True])
def test_a_report_that_cannot_be_written_stops_with_one_line_and_the_run_stays_complete(
    scripted_run, tmp_path, monkeypatch, push
):
    # a full disk at the very end of a finished run: exit 2 said "bad input" about a good --out
    import builtins
    import errno

    out, _ = scripted_run
    (out / "report.html").unlink()
    real_open = builtins.open

    def full_disk(file, mode="r", *args, **kwargs):
        if "report.html" in os.fspath(file) and "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(file))
        return real_open(file, mode, *args, **kwargs)

    args = ["generate", "--config", str(tmp_path / "config.yaml"), "--seeds", str(tmp_path / "seeds.jsonl")]
    with monkeypatch.context() as disk:
        disk.setattr(builtins, "open", full_disk)
        pushing = ["--push-to-hub", "someone/pairs"] if push else []  # the push comes after the report
        done = CliRunner().invoke(app, [*args, "--out", str(out), "-q", *pushing])
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert done.exit_code == 4 and "Traceback" not in done.output, done.output
    then = (
        ", but not pushed: run the same command again (it makes no calls) to write the report and push"
        if push
        else f"; `codeclm report {out}` writes the report"
    )
    assert lines[-1] == (  # the run's summary, then one line
        f"codeclm: error: cannot write {out / 'report.html'} ({os.strerror(errno.ENOSPC)}); everything else "
        f"in {out} is written and whole{then}"
    )
    assert sum("error" in line for line in lines) == 1
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert sorted(p.name for p in out.iterdir() if "report" in p.name) == []  # no half page, no temp file
    written = CliRunner().invoke(app, ["report", str(out)])
    assert written.exit_code == 0 and (out / "report.html").is_file(), written.output
