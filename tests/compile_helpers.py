"""Shared pieces of the compile tests: a toy embedder, seeds and a judge that learns from demos."""

from __future__ import annotations

import json
import zlib

import numpy as np


def bag_of_words(texts: list[str]) -> np.ndarray:
    """Unit rows of hashed word counts: equal texts give 1.0, disjoint words give 0."""
    rows = np.zeros((len(texts), 4096), dtype=np.float32)
    for r, text in enumerate(texts):
        for word in text.lower().split():
            rows[r, zlib.crc32(word.strip(".,?!:").encode()) % 4096] += 1
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


SOUND = "Serve it warm."  # ends every reference; no degraded copy keeps it


def write_seeds(path, n: int = 12, references: bool = True, labels: bool = False) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for k in range(n):
            record = {"id": f"s{k:02d}", "instruction": f"How do I cook dish number {k} at home tonight?"}
            if references:
                record["reference"] = (
                    f"Steps for dish {k}: chop, season, sear, simmer, rest and plate. {SOUND}"
                )
            if labels:
                record.update(use_case="cooking help", skills=["home cooking", "meal planning"])
            handle.write(json.dumps(record) + "\n")
    return str(path)


def learning_judge(role, inputs, params):
    """Right in both orders once it has seen demos; before that, right on half the requests
    (so bootstrapping finds good traces) and position-biased on the rest."""
    if "dish number " not in inputs["instruction"]:  # a generate run's own instructions
        return {"score_1": 5, "score_2": 5}
    dish = inputs["instruction"].split("dish number ")[1].split()[0]
    reference_first = inputs["answer_1"].startswith(f"Steps for dish {dish}:") and SOUND in inputs["answer_1"]
    if inputs["_turns"] > 2 or zlib.crc32(inputs["instruction"].encode()) % 2 == 0:
        return {"score_1": 8, "score_2": 3} if reference_first else {"score_1": 3, "score_2": 8}
    return {"score_1": 5, "score_2": 6}


def compile_config(steps: dict, **compile_section) -> dict:
    return {
        "models": {"strong": {"model": "scripted/strong"}, "target": {"model": "scripted/target"}},
        "engine": {"workers": 2, "cache": False},
        "compile": {"steps": steps, **compile_section},
    }
