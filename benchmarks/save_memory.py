"""Dataset save benchmark: how much the save of dataset/ adds to a run's peak RSS, by size.

    .venv/bin/python -m benchmarks.save_memory [--rows 1000 10000 30000]

Why: a run ends by writing kept.jsonl as dataset/ (Arrow shard and parquet,
``runs/dataset_files.py``), and that save must not need memory in proportion
to the dataset. For each size this writes kept.jsonl with that many pairs of
about 2.1 KB of JSON each (a paragraph-long answer, its chat messages and the
provenance columns), then runs ``RunDir.save_dataset`` in a fresh process and
prints its peak RSS before and after the save. datasets and pyarrow are
imported before the first reading, so the growth is the save's own.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.fresh_process import run_one


def pair(n: int) -> dict:
    """One kept row of a realistic size (about 2.1 KB as a line of kept.jsonl)."""
    instruction = f"Plan trip number {n} for a family of four with a fixed budget and two constraints. " * 2
    answer = f"Step {n}: compare the costs, book early, keep a reserve for surprises. " * 8
    return {
        "id": f"m{n // 10:05d}-{n % 10:03d}",
        "instruction": instruction,
        "response": answer,
        "messages": [{"role": "user", "content": instruction}, {"role": "assistant", "content": answer}],
        "source": "strong",
        "iteration": 1 + n % 3,
        "gap": 3.0,
        "strong_score": 8.0,
        "target_score": 5.0,
        "judge_scores": {
            "strong_first": {"strong": 8, "target": 5},
            "target_first": {"strong": 8, "target": 5},
        },
        "use_case": "trip planning",
        "skills": ["budgeting", "scheduling"],
        "actions": ["add a constraint"],
        "basic_instruction": instruction,
        "metadata_id": f"m{n // 10:05d}",
        "seed_ids": ["s1"],
    }


def peak_mb() -> float:
    """This process's peak RSS so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def one(rows: int) -> dict:
    """Write ``rows`` pairs and save them, in this process; report the peak RSS around the save."""
    import datasets  # noqa: F401  (imported before the first reading: not the save's growth)
    import pyarrow.parquet  # noqa: F401

    from codeclm_dspy.runs.run_dir import KEPT, RunDir

    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir.__new__(RunDir)  # only its directory: no journal is needed to save
        run.path = Path(tmp)
        with (run.path / KEPT).open("w", encoding="utf-8") as handle:
            for n in range(rows):
                handle.write(json.dumps(pair(n)) + "\n")
        before, started = peak_mb(), time.monotonic()
        saved = run.save_dataset()
        after, seconds = peak_mb(), time.monotonic() - started
        size = sum(p.stat().st_size for p in (run.path / "dataset").rglob("*") if p.is_file())
        assert len(saved) == rows
    return {
        "rows": rows,
        "dataset_mb": round(size / 2**20, 1),
        "peak_before_mb": round(before, 1),
        "peak_after_mb": round(after, 1),
        "save_s": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000, 30000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one)))
        return
    for rows in args.rows:
        r = run_one("benchmarks.save_memory", str(rows), f"the save of {rows} rows")
        print(
            f"{r['rows']:>7} pairs ({r['dataset_mb']} MB on disk): peak RSS {r['peak_before_mb']} -> "
            f"{r['peak_after_mb']} MB (+{r['peak_after_mb'] - r['peak_before_mb']:.1f}) in {r['save_s']} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
