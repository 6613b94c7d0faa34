"""The run directory: one run's durable state and what it leaves on disk.

    state.sqlite    the call journal and every item's progress and outcome
                    (see run_state.py); what makes a run resumable
    kept.jsonl      one row per kept instruction-response pair, sorted by id
    rejected.jsonl  every seed, metadata or instruction not kept, with reason
    dataset/        kept.jsonl as a saved HF dataset (datasets.load_from_disk),
                    the same rows as data/train-00000-of-00001.parquet (the Hub's
                    layout) and README.md, its dataset card (see dataset_card.py)
    manifest.json   config (no secrets), models, versions, funnel, costs
    .codeclm        the marker that says codeclm wrote it (see out_paths)

Items are recorded in state.sqlite as they move; kept.jsonl and
rejected.jsonl are exported from it when the run ends or stops, dataset/
when it completes, and manifest.json is written last, atomically. Running
``codeclm generate`` on an existing run directory resumes it, provided the
config (all but ``engine``), the seeds and the program are the ones it was
started with.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import OutputWriteFailed, RunDirError
from codeclm_dspy.out_paths import MARKER, atomic_write, claim_dir, kind_of_identity, shown
from codeclm_dspy.pipeline.records import Trajectory, trajectory_details
from codeclm_dspy.runs.dataset_card import PARQUET_DIR, PARQUET_FILE, card_text
from codeclm_dspy.runs.dataset_files import write_dataset
from codeclm_dspy.runs.manifest import utc_now
from codeclm_dspy.runs.run_state import TRAJECTORY, RunState
from codeclm_dspy.secrets import scrub

logger = logging.getLogger(__name__)

KEPT, REJECTED, MANIFEST, DATASET, STATE = (
    "kept.jsonl",
    "rejected.jsonl",
    "manifest.json",
    "dataset",
    "state.sqlite",
)
AGAIN = "the run state is kept: free some disk space (or fix the permissions) and run the same command again"


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


def _only_writer(path: Path) -> int:
    """Lock ``path`` for this process (its marker file, ``flock``); return the descriptor holding it.

    Two processes writing one run would each make, and pay for, every call
    the other makes (neither sees the other's answers until they land) and
    each hold a budget of its own. The kernel drops the lock when its
    process dies, so a killed run never leaves it behind.

    Raises:
        RunDirError: another process holds it.
    """
    fd = os.open(path / MARKER, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunDirError(
            f"{path} is being written by another codeclm process; wait for it to end (or stop it), "
            "then run the same command again"
        ) from None
    return fd


class RunDir:
    """A run directory, new or resumed; the pipeline's sink.

    Args:
        path: the directory; created (and marked as ours) if missing.
        identity: what the run's output depends on (config without
            ``engine``, seeds, program); a resumed run must match it.
        kind: ``run``, ``crr`` or ``program`` (see ``out_paths.KINDS``);
            told from ``identity`` when None.

    Raises:
        RunDirError: the directory is not ours (see ``out_paths``), or holds
            a run started with a different identity.
    """

    def __init__(self, path: str | Path, identity: dict[str, Any], kind: str | None = None):
        self.path = Path(path)
        claim_dir(self.path, kind or kind_of_identity(identity))
        self._owner = _only_writer(self.path)
        self.state: RunState | None = None
        try:
            self._open(identity)
        except BaseException:
            self.close()  # lets go of the lock: a refused resume can be run again at once
            raise
        self.kept_count = 0
        self.rejected_count = 0
        self.kept_live = 0  # kept in this session so far (the progress display)
        self._lock = threading.Lock()

    def _open(self, identity: dict[str, Any]) -> None:
        """Open the state, check that it was started with ``identity``, and count this session.

        Every value read is checked before the first write, so a hand-edited
        state is refused as it is (``RunState.get_meta``).
        """
        state_file = self.path / STATE
        self.resumed = state_file.exists()
        self.state = RunState(state_file)
        started_with = self.state.get_meta("identity", dict)
        sessions = self.state.get_meta("sessions", int) or 0
        self.started_at = self.state.get_meta("started_at", str) or utc_now()
        if started_with is not None and started_with != json.loads(json.dumps(identity, sort_keys=True)):
            changed = differing(started_with, json.loads(json.dumps(identity)))
            raise RunDirError(
                f"{self.path} holds a run started with a different {', '.join(changed)}; resuming needs the "
                "same config (only the engine section may change), seeds and program. Use a new --out"
            )
        if started_with is None:
            self.state.set_meta("identity", identity)
        self.sessions = sessions + 1
        self.state.set_meta("sessions", self.sessions)
        self.state.set_meta("started_at", self.started_at)

    def keep(self, row: dict[str, Any], trajectory: dict[str, Any] | None = None) -> None:
        with self._lock:
            self.kept_live += 1
        self.state.put_item("instruction", row["id"], "kept", "contrastive_filtering", row["iteration"], row)
        if trajectory is not None:  # for `codeclm report`: every round, both answers; not exported
            self.state.put_item(
                TRAJECTORY, row["id"], TRAJECTORY, "contrastive_filtering", row["iteration"], trajectory
            )

    def reject(self, row: dict[str, Any]) -> None:
        iteration = len(row.get("attempts") or ())
        self.state.put_item(row["kind"], row["id"], row["outcome"], row["stage"], iteration, row)

    def progress(self, traj: Trajectory) -> None:
        details = trajectory_details(traj)
        self.state.put_item("instruction", traj.id, "running", "self_rubrics", len(traj.attempts), details)

    def export(self) -> None:
        """Write kept.jsonl and rejected.jsonl from the state, sorted by id."""
        with saving(self.path / KEPT):
            self.kept_count = self.state.export(self.path / KEPT, ("kept",))
        with saving(self.path / REJECTED):
            self.rejected_count = self.state.export(self.path / REJECTED, ("rejected", "failed"))

    def close(self) -> None:
        if self.state is not None:
            self.state.close()
        if self._owner is not None:
            os.close(self._owner)  # releases the lock; a killed process's goes with it
            self._owner = None

    def save_dataset(self):
        """Save kept.jsonl (sorted by id) as an HF dataset and as parquet beside it; return it.

        One streaming pass writes both (``dataset_files.py``): the save holds
        one batch of rows, not the dataset.
        """
        import datasets

        datasets.disable_progress_bars()  # the run's own display already said what happens
        with saving(self.path / DATASET):
            write_dataset(
                self.path / KEPT, self.path / DATASET, kept_features(), f"{PARQUET_DIR}/{PARQUET_FILE}"
            )
        return datasets.load_from_disk(str(self.path / DATASET))

    def write_card(self, manifest: dict[str, Any], data) -> str:
        """Write dataset/README.md, the card of ``data`` (saved by ``save_dataset``), from ``manifest``."""
        with saving(self.path / DATASET / "README.md"):
            return save_card(self.path / DATASET, manifest, data)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write manifest.json whole (``atomic_write``).

        Raises:
            OutputWriteFailed: it cannot be written (a full disk). The earlier
                manifest is removed then: it says how an earlier session ended,
                and left in place it would call this one "complete" too.
        """
        target = self.path / MANIFEST
        try:
            with atomic_write(target) as handle:
                handle.write(scrub(json.dumps(manifest, indent=2, ensure_ascii=False)) + "\n")
        except OSError as exc:
            earlier = (
                "the earlier one is removed, so that no earlier session's status stands for this one"
                if _remove(target)
                else "nor can the earlier one be removed: it tells how an earlier session ended, not this one"
            )
            raise OutputWriteFailed(
                f"cannot write {shown(target)} ({exc.strerror or exc}); {earlier}; {AGAIN}"
            ) from exc


@contextmanager
def saving(path: Path) -> Iterator[None]:
    """A failed write of ``path`` (a full disk) as a stop: exit 4 and one line, never a traceback."""
    try:
        yield
    except OSError as exc:
        raise OutputWriteFailed(f"cannot write {shown(path)} ({exc.strerror or exc}); {AGAIN}") from exc


def _remove(path: Path) -> bool:
    """Remove ``path`` if it is there; whether it is gone (removing needs no disk space)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        logger.debug("cannot remove %s: %s", shown(path), exc)
        return False
    return True


def save_card(folder: Path, manifest: dict[str, Any], data, repo_id: str | None = None) -> str:
    """Write ``folder``/README.md, the card of the dataset saved there; return its text.

    Args:
        folder: a run's dataset/ (Arrow files and the parquet copy).
        manifest: the run's manifest, or the fields it is about to be written with.
        data: the saved dataset.
        repo_id: the Hub repository it is pushed to, if it is.
    """
    card = card_text(
        manifest,
        data.features,
        len(data),
        # the size the save recorded: Table.nbytes reads every column's offsets
        # through the memory map (4.8 MB of resident pages in a 10,000-pair run)
        num_bytes=data.info.dataset_size if data.info.dataset_size is not None else data.data.nbytes,
        parquet_bytes=(folder / PARQUET_DIR / PARQUET_FILE).stat().st_size,
        repo_id=repo_id,
    )
    (folder / "README.md").write_text(card, encoding="utf-8")
    return card


def differing(before: Any, now: Any, where: str = "", most: int = 4) -> list[str]:
    """Where two run identities differ, as dotted paths (``config.models.judge.temperature``)."""
    if before == now:
        return []
    if not (isinstance(before, dict) and isinstance(now, dict)):
        return [where]
    found: list[str] = []
    for key in sorted(set(before) | set(now)):
        found += differing(before.get(key), now.get(key), f"{where}.{key}" if where else key, most)
    return found[:most]
