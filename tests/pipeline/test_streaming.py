"""Instructions stream through Self-Rubrics + filtering, and timing never changes the data.

Items are coroutines and the next instruction starts as soon as one
finishes; which instructions start must still depend only on the answers,
never on the order they arrive in, so a run at any concurrency, with any
latencies, writes the same dataset as a run of one item at a time.
"""

import hashlib
import json
import random
import time

import pytest

import codeclm_dspy as cc
from codeclm_dspy.pipeline.records import Seed

SEEDS = [Seed(f"s{i}", f"Seed instruction number {i}") for i in range(4)]
TOPICS = ["code review", "trip planning", "recipe scaling", "tax questions"]


def digit(text: str) -> int:
    return hashlib.sha256(text.encode()).digest()[0] % 10


def handlers(script, jitter: random.Random | None):
    """Answers that are pure functions of the request; ``jitter`` only delays them."""

    def slow(answer):
        if jitter is not None:
            time.sleep(jitter.random() * 0.02)
        return answer

    script.handlers["encode"] = lambda r, i, p: slow(
        {"use_case": TOPICS[int(i["instruction"][-1])], "skills": ["care", "detail"]}
    )
    script.handlers["check_metadata"] = lambda r, i, p: slow({"plausible": True})
    # three more than asked: the decoder keeps them (paid for), so the buffer outgrows the quota
    script.handlers["decode"] = lambda r, i, p: slow(
        {"new_instructions": [f"Task {n} on {i['use_case']}" for n in range(int(i["count"]) + 3)]}
    )
    script.handlers["respond"] = lambda role, i, p: slow(f"{role.upper()} answer to {i['instruction']}")

    def judge(role, inputs, params):
        # a clear gap for some instructions, a tie for the rest; rewrites change the draw
        d = digit(inputs["instruction"])
        strong, target = (9, 2) if d < 3 else (2, 9) if d < 5 else (5, 5)
        first_is_strong = inputs["answer_1"].startswith("STRONG")
        return slow(
            {
                "score_1": strong if first_is_strong else target,
                "score_2": target if first_is_strong else strong,
            }
        )

    script.handlers["judge"] = judge


def run(script, tmp_path, name: str, workers: int, jitter: random.Random | None):
    handlers(script, jitter)
    config = cc.parse_config(
        {
            "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
            "pipeline": {"metadata_pool_size": 4, "num_instructions": 10, "max_iterations": 3},
            "engine": {"workers": workers, "cache": False},
        }
    )
    cc.generate(config, SEEDS, tmp_path / name)
    out = tmp_path / name
    manifest = json.loads((out / "manifest.json").read_text())
    kept = (out / "kept.jsonl").read_text()
    rejected = sorted((out / "rejected.jsonl").read_text().splitlines())
    return manifest, kept, rejected


@pytest.mark.parametrize("seed", [1, 2])
def test_concurrent_items_with_random_latency_write_the_sequential_dataset(script, tmp_path, seed):
    reference, kept, rejected = run(script, tmp_path, "one-at-a-time", 1, None)
    calls = len(script.calls)
    manifest, kept_c, rejected_c = run(script, tmp_path, "concurrent", 8, random.Random(seed))
    assert kept_c == kept and rejected_c == rejected
    assert manifest["counts"] == reference["counts"] and manifest["usage"]["calls"] == calls
    counts = manifest["counts"]["instructions"]
    assert counts["kept"] == 10 and counts["over_quota"] > 0  # the quota was met with instructions left


def test_the_instructions_filtered_are_the_prefix_that_met_the_quota(script, tmp_path):
    # Two items in flight for a quota of 10: the next instruction starts as soon
    # as one is dropped, and none starts once the kept pairs plus those in
    # flight could meet the quota, so nothing is paid for beyond it.
    manifest, _, rejected = run(script, tmp_path, "two", 2, random.Random(3))
    counts = manifest["counts"]["instructions"]
    filtered = counts["kept"] + counts["dropped"] + counts["rejected"] + counts["failed"]
    left = [json.loads(r) for r in rejected if json.loads(r)["reason"] == "over_quota"]
    assert filtered + len(left) + counts["duplicates"] == counts["generated"]
    # one decode round, so the buffer's order is the ids' order: the instructions
    # filtered are a prefix that ends with the pair that met the quota
    assert manifest["counts"]["decode"]["rounds"] == 1
    kept_ids = {json.loads(line)["id"] for line in (tmp_path / "two" / "kept.jsonl").open()}
    dropped_ids = {json.loads(r)["id"] for r in rejected if json.loads(r)["reason"] == "within_threshold"}
    last_filtered = max(kept_ids | dropped_ids)
    assert last_filtered in kept_ids
    assert left and all(r["id"] > last_filtered for r in left)
