"""How fast the HTML report of a 10,000-item run opens in a real browser.

    .venv/bin/python -m benchmarks.report_open [--items 10000] [--runs 3]

Builds a synthetic but realistically sized run directory (the shapes
``generate`` writes: kept pairs with their last round, instructions dropped
after three rounds with both answers each time, decode rejections without
rounds, quality-gate refusals; answers of a few hundred words), renders its
report with ``codeclm_dspy.report``, opens it in headless Chromium over CDP
and times navigation until the first page of items is drawn (the page sets
``data-ready`` then), and a filter over all items. The target is under 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.headless import Browser
from codeclm_dspy.report import write_report

# answers are random words from this text: realistic lengths, nothing to compress specially
VOCABULARY = (
    "the model answer explains each step data function value user request example result because "
    "first then finally consider list table error case test input output code system method score"
)
WORDS = re.findall(r"\w+", VOCABULARY)
REASONS = [
    ("duplicate", "decode", 0.35),
    ("not_an_instruction", "decode", 0.15),
    ("over_quota", "quota", 0.1),
]


def text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def attempt(rng: random.Random, iteration: int, instruction: str, gap: float) -> dict:
    strong = rng.randint(4, 10)
    target = max(1, min(10, round(strong - gap)))
    return {
        "iteration": iteration,
        "instruction": instruction,
        "strong_response": text(rng, rng.randint(120, 300)),
        "target_response": text(rng, rng.randint(60, 200)),
        "judge_scores": {
            "strong_first": {"strong": strong, "target": target},
            "target_first": {"strong": strong, "target": target},
        },
        "strong_score": float(strong),
        "target_score": float(target),
        "gap": float(strong - target),
        "strong_finish": "stop",
        "target_finish": "stop",
    }


def build_run(path: Path, n: int, seed: int = 0) -> dict[str, int]:
    """Write kept.jsonl, rejected.jsonl and manifest.json for ``n`` items; return counts by outcome."""
    rng = random.Random(seed)
    path.mkdir(parents=True)
    (path / ".codeclm").write_text('{"codeclm": "run"}\n')
    kept, rejected, counts = [], [], {"kept": 0, "within_threshold": 0, "gate": 0, "decode": 0}
    for k in range(n):
        meta = f"m{k // 40:05d}"
        base = {
            "id": f"{meta}-{k % 40:03d}",
            "use_case": f"use case {k % 57}",
            "skills": [f"skill {k % 13}", f"skill {k % 7}"],
            "seed_ids": [f"seed-{k % 300}"],
            "basic_instruction": text(rng, 18),
        }
        roll = rng.random()
        if roll < 0.2:  # kept after one to three rounds: its last round only
            rounds = rng.randint(1, 3)
            actions = [f"action {rng.randint(0, 9)}" for _ in range(rounds - 1)]
            last = attempt(rng, rounds, text(rng, 30), rng.choice([3.0, 4.5, -2.0]))
            kept.append(
                {
                    **base,
                    "instruction": last["instruction"],
                    "response": last["strong_response"],
                    "source": "strong",
                    "iteration": rounds,
                    "gap": last["gap"],
                    "strong_score": last["strong_score"],
                    "target_score": last["target_score"],
                    "judge_scores": last["judge_scores"],
                    "actions": actions,
                    "metadata_id": meta,
                    "messages": [
                        {"role": "user", "content": last["instruction"]},
                        {"role": "assistant", "content": last["strong_response"]},
                    ],
                }
            )
            counts["kept"] += 1
        elif roll < 0.45:  # dropped after three rounds within θ
            tries = [
                attempt(rng, i + 1, text(rng, 25 + 5 * i), rng.choice([0.0, 0.5, -0.5, 1.0]))
                for i in range(3)
            ]
            rejected.append(
                {
                    **base,
                    "kind": "instruction",
                    "outcome": "rejected",
                    "reason": "within_threshold",
                    "stage": "contrastive_filtering",
                    "threshold": 1.0,
                    "instruction": tries[-1]["instruction"],
                    "actions": ["action 1", "action 2"],
                    "attempts": tries,
                }
            )
            counts["within_threshold"] += 1
        elif roll < 0.5:  # an answer refused by a quality gate
            tries = [attempt(rng, 1, text(rng, 25), 4.0)]
            rejected.append(
                {
                    **base,
                    "kind": "instruction",
                    "outcome": "rejected",
                    "reason": "truncated_response",
                    "stage": "respond_strong",
                    "gate_detail": "the answer stopped at max_tokens",
                    "instruction": tries[0]["instruction"],
                    "actions": [],
                    "attempts": tries,
                }
            )
            counts["gate"] += 1
        else:  # decoded, then refused before any round
            reason, stage, _ = rng.choices(REASONS, weights=[w for *_, w in REASONS])[0]
            rejected.append(
                {
                    **base,
                    "kind": "instruction",
                    "outcome": "rejected",
                    "reason": reason,
                    "stage": stage,
                    "instruction": text(rng, 20),
                    "metadata_id": meta,
                    "mixed": False,
                }
            )
            counts["decode"] += 1
    for name, rows in (("kept.jsonl", kept), ("rejected.jsonl", rejected)):
        with (path / name).open("w", encoding="utf-8") as handle:
            for row in sorted(rows, key=lambda r: r["id"]):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    judged = [1, 2, 3]
    (path / "manifest.json").write_text(json.dumps(_manifest(n, counts, judged)))
    return counts


def _manifest(n: int, counts: dict[str, int], judged: list[int]) -> dict:
    steps = {
        s: {
            "calls": n,
            "cache_hits": 0,
            "tokens": 300 * n,
            "usd": 0.0004 * n,
            "models": ["openai/gpt-4o-mini"],
        }
        for s in ("decode", "improve", "respond_strong", "respond_target", "judge")
    }
    kept = counts["kept"]
    return {
        "status": "complete",
        "method": "codeclm",
        "wall_time_s": 3600.0,
        "models": {r: {"model": "openai/gpt-4o-mini"} for r in ("strong", "target", "judge")},
        "config": {"pipeline": {"threshold": 1.0, "max_iterations": 3, "num_instructions": kept}},
        "usage": {"steps": steps},
        "cost_funnel": {
            "seeds": 300,
            "metadata": n // 40,
            "basic_instructions": n,
            "kept": kept,
            "asked": kept,
            "dropped": counts["within_threshold"],
            "failed": 0,
            "iterations": [{"iteration": i, "judged": kept + counts["within_threshold"]} for i in judged],
            "stages": {"decode + rubrics": {"calls": n, "tokens": 300 * n, "usd": 0.0004 * n}},
            "per_kept_pair": {"calls": 5 * n / kept, "tokens": 1500 * n / kept, "usd": 0.002 * n / kept},
        },
    }


async def measure(report: Path, tmp: Path, runs: int) -> tuple[list[float], list[float]]:
    opened, filtered = [], []
    async with Browser.start(tmp) as page:
        for _ in range(runs):
            opened.append(await page.open(report))
            filtered.append(
                await page.evaluate(
                    "(() => { const s = document.querySelector('#item-browser select[data-filter=reason]');"
                    " const t = performance.now(); s.value = 'within_threshold'; s.dispatchEvent(new Event('change'));"
                    " return (performance.now() - t) / 1000; })()"
                )
            )
        if page.errors:
            raise SystemExit(f"the page reported errors: {page.errors}")
    return opened, filtered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="page loads to time (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        counts = build_run(run, args.items)
        started = time.perf_counter()
        report = write_report(run)
        rendered = time.perf_counter() - started
        opened, filtered = asyncio.run(measure(report, Path(tmp), args.runs))
        size = report.stat().st_size / 1e6
    print(f"run: {args.items:,} items ({', '.join(f'{k} {v:,}' for k, v in counts.items())})")
    print(f"report.html: {size:.1f} MB, written in {rendered:.2f} s")
    print(
        f"open to first page of items: {opened[0]:.2f} s the first time, median of {args.runs} "
        f"{statistics.median(opened):.2f} s (target < 3 s)"
    )
    print(f"filter over all items: {1000 * statistics.median(filtered):.0f} ms")


if __name__ == "__main__":
    main()
