"""A run's dataset/ written from kept.jsonl in one streaming pass: the Arrow shard and the parquet copy.

Why not ``Dataset.from_generator``, ``save_to_disk`` and ``to_parquet``: that
route writes the rows three times and reads two of the copies back through
memory maps, and every page read that way counts as the run's resident memory
until the mapping closes. Measured with ``python -m benchmarks.save_memory``
(pairs of about 2.1 KB of JSON), the save alone raised the peak RSS by 41.2,
61.0 and 108.9 MB at 1,000, 10,000 and 30,000 pairs: memory that grew with the
dataset. Here kept.jsonl is read a batch at a time and each batch goes to both
files through datasets' own writers (``ArrowWriter`` as ``save_to_disk`` uses
it, ``ParquetWriter`` with the options ``to_parquet`` uses), so the save holds
one batch of rows whatever the run's size. After each batch, Arrow's allocator
is asked to give back what it freed; it keeps it otherwise. With batches of
1,000 rows or 1 MB the save added 27.6, 36.8 and 34.5 MB at the same sizes;
with 250 rows (fewer once they reach 512 KB) and the release, 19.1, 19.2 and
23.2 MB, in 0.15, 0.99 and 2.95 s. Each batch is one Arrow record batch and
one parquet row group, where ``to_parquet`` wrote one group for a dataset
under 100 MB. Smaller groups cost a little on disk: on AlpacaEval's 1,610
answers of two models the parquet file is 2.70 MB in one group, 2.78 MB with
the earlier batches and 2.88 MB (+7%) with these; the Arrow shard +0.3%.
Smaller still is worse: loading the shard back touches a page or so of every
record batch (at 10,000 pairs, 6.8 MB of mapped file with 100-row batches, 1.7
MB with 1,000-row ones). Values must already have their column's type (the run
writes them so); ``from_generator`` also converted "2" to 2.

What ``save_to_disk`` writes besides the shard is two small JSON files:
``dataset_info.json`` comes from datasets' ``DatasetInfo.write_to_directory``;
``state.json`` has no public writer, so it is written here with the keys
``load_from_disk`` reads (``tests/runs/test_dataset_files.py`` loads the
folder back and compares it with kept.jsonl).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from codeclm_dspy.errors import RunDirError
from codeclm_dspy.out_paths import shown

SHARD = "data-00000-of-00001.arrow"  # save_to_disk's name for a single shard
# A batch ends at this many rows or this much JSON, whichever comes first:
# long answers make big rows, and the save holds one batch. Each batch is one
# Arrow record batch and one parquet row group; smaller batches held less
# but made more of them (see the module docstring).
BATCH_ROWS = 250
BATCH_BYTES = 512 << 10


def write_dataset(kept: Path, folder: Path, features, parquet: str) -> None:
    """Write ``folder`` (replacing it) as ``datasets.load_from_disk`` reads it, plus ``parquet``.

    Args:
        kept: kept.jsonl, one row per line, already in the order to keep.
        folder: the dataset directory to (re)write.
        features: the rows' ``datasets.Features``.
        parquet: the parquet file's path inside ``folder``.
    """
    import datasets
    import pyarrow as pa
    from datasets.arrow_writer import ArrowWriter, ParquetWriter

    for stale in folder.parent.glob(".dataset-build-*"):  # a save killed midway (out_paths.leftover)
        shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=".dataset-build-", dir=folder.parent) as scratch:
        build = Path(scratch) / folder.name
        (build / parquet).parent.mkdir(parents=True)
        digest = hashlib.sha256()
        schema = features.arrow_schema
        pool = pa.default_memory_pool()
        with (
            ArrowWriter(features=features, path=str(build / SHARD)) as arrow,
            ParquetWriter(features=features, path=str(build / parquet)) as table,
        ):
            for rows in _batches(kept, digest):
                batch = pa.Table.from_pylist(rows, schema=schema)
                arrow.write_table(batch)
                table.write_table(batch)
                del batch  # freed before the next batch is parsed
                pool.release_unused()  # Arrow's allocator keeps freed memory otherwise
            count, size = arrow.finalize()
            table.finalize()
        split = datasets.SplitInfo(name="train", num_bytes=size, num_examples=count)
        info = datasets.DatasetInfo(
            features=features,
            splits=datasets.SplitDict({"train": split}),
            dataset_size=size,
            size_in_bytes=size,
        )
        info.write_to_directory(str(build), pretty_print=True)
        state = {
            "_data_files": [{"filename": SHARD}],
            "_fingerprint": digest.hexdigest()[:16],  # the rows' own: same rows, same fingerprint
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": "train",
        }
        (build / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
        _swap(build, folder)


def _batches(kept: Path, digest) -> Iterator[list[dict]]:
    """kept.jsonl's rows in batches (see ``BATCH_ROWS``), feeding every line to ``digest``.

    Raises:
        RunDirError: a line is not a JSON object (the run writes none such:
            the file was edited); the earlier dataset/ is left as it was.
    """
    rows: list[dict] = []
    held = 0
    with kept.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            digest.update(line)
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise RunDirError(
                    f"{shown(kept)} line {number} is not JSON ({exc}); cannot save the dataset"
                ) from None
            if not isinstance(row, dict):
                raise RunDirError(
                    f"{shown(kept)} line {number} is not a JSON object; cannot save the dataset"
                )
            rows.append(row)
            held += len(line)
            if len(rows) >= BATCH_ROWS or held >= BATCH_BYTES:
                yield rows
                rows, held = [], 0
    if rows:
        yield rows


def _swap(build: Path, folder: Path) -> None:
    """Put the new folder in place of the old one (an earlier session's, if any).

    A save killed between the two renames leaves ``.dataset-old`` and no
    dataset/; the next save removes it (kept.jsonl still holds the rows).
    """
    old = folder.with_name(f".{folder.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    build.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
