"""The run directory: what a finished run leaves on disk.

    kept.jsonl      one row per kept instruction-response pair
    rejected.jsonl  every seed, metadata or instruction that was not kept
    dataset/        kept.jsonl as a saved HF dataset (datasets.load_from_disk)
    manifest.json   config (no secrets), models, versions, counts, wall time

Rows are appended and flushed as items finish, so nothing is held in memory
and a crash leaves every finished item on disk. ``manifest.json`` is written
last, atomically, and says ``"status": "complete"`` only when the run ended
normally; a run that stopped on an error says ``"failed"`` and has no
``dataset/``.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import RunDirError

KEPT, REJECTED, MANIFEST, DATASET = "kept.jsonl", "rejected.jsonl", "manifest.json", "dataset"


def kept_features():
    """The schema of a kept row, so the saved dataset is typed even when empty."""
    from datasets import Features, List, Value

    pair = {"strong": Value("int32"), "target": Value("int32")}
    return Features(
        {
            "id": Value("string"),
            "instruction": Value("string"),
            "response": Value("string"),
            "messages": List({"role": Value("string"), "content": Value("string")}),
            "source": Value("string"),
            "iteration": Value("int32"),
            "gap": Value("float64"),
            "strong_score": Value("float64"),
            "target_score": Value("float64"),
            "judge_scores": {"strong_first": pair, "target_first": pair},
            "use_case": Value("string"),
            "skills": List(Value("string")),
            "actions": List(Value("string")),
            "basic_instruction": Value("string"),
            "metadata_id": Value("string"),
            "seed_ids": List(Value("string")),
        }
    )


class RunDir:
    """A sink that streams rows into a fresh run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise RunDirError(
                f"output directory {self.path} already exists and is not empty; "
                "choose a new --out so no earlier run is overwritten"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"cannot create output directory {self.path}: {exc.strerror}") from None
        self._lock = threading.Lock()
        self._kept = (self.path / KEPT).open("a", encoding="utf-8")
        self._rejected = (self.path / REJECTED).open("a", encoding="utf-8")
        self.kept_count = 0
        self.rejected_count = 0

    def _write(self, handle, row: dict[str, Any]) -> None:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        handle.flush()

    def keep(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._write(self._kept, row)
            self.kept_count += 1

    def reject(self, row: dict[str, Any]) -> None:
        with self._lock:
            self._write(self._rejected, row)
            self.rejected_count += 1

    def close(self) -> None:
        for handle in (self._kept, self._rejected):
            handle.close()

    def save_dataset(self):
        """Save kept.jsonl as an HF dataset sorted by id; return it."""
        import datasets

        features = kept_features()
        if self.kept_count:
            data = datasets.Dataset.from_json(str(self.path / KEPT), features=features).sort("id")
        else:
            data = datasets.Dataset.from_dict({name: [] for name in features}, features=features)
        data.save_to_disk(str(self.path / DATASET))
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write manifest.json atomically (temp file, fsync, rename)."""
        tmp = self.path / (MANIFEST + ".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path / MANIFEST)
