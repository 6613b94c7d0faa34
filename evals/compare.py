"""Compare finished runs on one held-out set: quality, diversity, leaks and cost.

A fine-tuning-free comparison of generators (CodecLM, its ablations, the
baselines): every run's kept instructions and the held-out benchmark (the
target distribution, e.g. Vicuna's 80% eval split) are embedded once, and
each run gets one row of metrics from ``evals.metrics`` plus its spend per
kept pair from the manifest. Nothing in a run directory is changed; with
``remove_contaminated`` two new files are added to it.

Methods keep different numbers of rows, and coverage, distinct-n and the
duplicate rate all move with size alone, so by default every run is measured
on a seeded subsample of the smallest run's size ("equal N"); each run's full
size is still reported, and contamination is checked on every row (a leak
counts whether or not it was sampled).

    from evals.compare import compare
    from evals.embeddings import Embedder
    result = compare(["runs/codeclm", "runs/self-instruct"], "vicuna-eval.jsonl", embedder=Embedder())
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from codeclm_dspy.out_paths import atomic_write
from evals.benchmarks import load_benchmark
from evals.metrics import (
    contamination,
    coverage,
    distinct_n,
    mean_nn_similarity,
    mean_pairwise_distance,
    near_duplicate_rate,
    precision,
)
from evals.run_data import CompareError, Run, load_run

CLEANED, FLAGS = "kept.decontaminated.jsonl", "contamination.json"
HELDOUT = "heldout"


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass
class Comparison:
    """Rows (one per run, in the order given), the settings, and every contamination flag.

    ``samples`` holds, per run, the ids of the rows the metrics were computed
    on when measuring at equal N (empty with ``equal_n=False``).
    """

    rows: list[dict[str, Any]]
    settings: dict[str, Any]
    flags: dict[str, list[dict[str, Any]]]
    samples: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


def _labels(runs: list[Run]) -> list[str]:
    """Method names, made unique with the directory name where two runs share one."""
    methods = [r.method for r in runs]
    labels = [
        m if methods.count(m) == 1 else f"{m} ({r.path.name})" for m, r in zip(methods, runs, strict=True)
    ]
    return [lab if labels.count(lab) == 1 else f"{lab} #{i + 1}" for i, lab in enumerate(labels)]


def _write_new(path: Path, text: str) -> None:
    """Write one of our own files beside the run's, whole (``atomic_write``)."""
    try:
        with atomic_write(path) as handle:
            handle.write(text)
    except OSError as exc:
        raise CompareError(f"cannot write {path}: {exc.strerror}") from None


def _name(embedder: Any) -> str:
    """The embedding model's name for the report (``model`` may be the loaded model itself)."""
    names = (getattr(embedder, a, None) for a in ("name", "model_name", "model"))
    return next((n for n in names if isinstance(n, str) and n), type(embedder).__name__)


# The dataset metrics every row of a comparison carries.
METRICS = (
    "coverage",
    "precision",
    "mean_nn_similarity",
    "distinct_1",
    "distinct_2",
    "mean_pairwise_distance",
    "near_duplicate_rate",
)


def _metrics(texts: list[str], emb: np.ndarray, held: np.ndarray, s: dict[str, Any]) -> dict[str, Any]:
    if not texts:  # nothing to measure: say so rather than report a misleading 0
        return dict.fromkeys(METRICS)
    values = (
        coverage(held, emb, s["coverage_threshold"]),
        precision(held, emb, s["coverage_threshold"]),
        mean_nn_similarity(held, emb),
        distinct_n(texts, 1),
        distinct_n(texts, 2),
        mean_pairwise_distance(emb),
        near_duplicate_rate(emb, s["duplicate_threshold"]),
    )
    return {k: round(float(v), 4) for k, v in zip(METRICS, values, strict=True)}


def subsample(indices: list[int], n: int, seed: int) -> list[int]:
    """``n`` of ``indices`` drawn without replacement under ``seed``, in their original order.

    Each run draws from its own generator seeded only by ``seed``, so adding
    a run to a comparison never changes another run's sample (unless it
    lowers N).
    """
    if len(indices) <= n:
        return list(indices)
    chosen = random.Random(f"equal-n:{seed}").sample(range(len(indices)), n)
    return [indices[k] for k in sorted(chosen)]


def compare(
    runs: list[str | Path],
    heldout: str | Path,
    *,
    embedder: Encoder,
    eval_sets: dict[str, str | Path] | None = None,
    coverage_threshold: float = 0.7,
    duplicate_threshold: float = 0.95,
    contamination_threshold: float = 0.9,
    remove_contaminated: bool = False,
    equal_n: bool = True,
    subsample_seed: int = 0,
    fields: dict[str, str] | None = None,
) -> Comparison:
    """Score every run against the held-out set and check it for eval leaks.

    Args:
        runs: run directories, in the order the rows should have.
        heldout: the target distribution (a benchmark file for ``load_benchmark``);
            it is always also an eval set, named "heldout".
        embedder: anything with ``encode(texts) -> array`` (``evals.embeddings.Embedder``).
        eval_sets: further benchmarks to check for leaks, name -> source.
        coverage_threshold: cosine for coverage and precision.
        duplicate_threshold: cosine for the near-duplicate rate.
        contamination_threshold: cosine for a near copy of an eval item.
        remove_contaminated: drop flagged rows before measuring, and write
            kept.decontaminated.jsonl and contamination.json into each run.
        equal_n: measure each run on a seeded subsample of N rows, N the
            smallest non-empty run's measured size; False measures every row.
        subsample_seed: the seed of those subsamples.
        fields: ``load_benchmark`` field names (instruction_field, id_field)
            for the held-out set and every eval set.

    Raises:
        CompareError: no runs, a bad run directory, or a clashing eval-set name.
        BenchmarkError: the held-out or an eval set cannot be read.
    """
    if not runs:
        raise CompareError("compare needs at least one run directory")
    extra = dict(eval_sets or {})
    if HELDOUT in extra:
        raise CompareError(f"the eval-set name '{HELDOUT}' is taken by the held-out set; rename it")
    loaded = [load_run(p) for p in runs]
    fields = fields or {}
    sets = {
        HELDOUT: load_benchmark(heldout, **fields),
        **{name: load_benchmark(src, **fields) for name, src in extra.items()},
    }

    # one encode call over every distinct text (never empty: a benchmark has items);
    # runs often share instructions with each other and with the eval sets
    texts = [t for r in loaded for t in r.instructions] + [i.text for items in sets.values() for i in items]
    unique = list(dict.fromkeys(texts))
    vectors = np.asarray(embedder.encode(unique), dtype=np.float32)
    where = {t: n for n, t in enumerate(unique)}

    def embed(batch: list[str]) -> np.ndarray:
        return vectors[[where[t] for t in batch]]  # an empty batch gives a (0, dim) array

    eval_data = {
        name: ([i.id for i in items], [i.text for i in items], embed([i.text for i in items]))
        for name, items in sets.items()
    }
    settings = {
        "coverage_threshold": coverage_threshold,
        "duplicate_threshold": duplicate_threshold,
        "contamination_threshold": contamination_threshold,
        "remove_contaminated": remove_contaminated,
        "embedder": _name(embedder),
        "heldout": {"path": str(heldout), "size": len(sets[HELDOUT])},
        "eval_sets": {
            name: {"path": str(heldout if name == HELDOUT else extra[name]), "size": len(items)}
            for name, items in sets.items()
        },
    }
    measured = []
    for label, run in zip(_labels(loaded), loaded, strict=True):
        emb = embed(run.instructions)
        flags = contamination(run.instructions, emb, eval_data, contamination_threshold) if run.kept else []
        for f in flags:
            f["id"] = run.ids[f["index"]]
        flagged = {f["index"] for f in flags}
        keep = [i for i in range(run.kept) if not (remove_contaminated and i in flagged)]
        if remove_contaminated:
            _write_new(run.path / CLEANED, "".join(run.lines[i] + "\n" for i in keep))
            _write_new(run.path / FLAGS, json.dumps(flags, indent=2, ensure_ascii=False) + "\n")
        measured.append((label, run, emb, flags, keep))
    sizes = [len(keep) for *_, keep in measured if keep]  # a run with no rows has no metrics anyway
    n = min(sizes) if equal_n and sizes else None
    settings["equal_n"] = {"n": n, "seed": subsample_seed} if equal_n else None
    rows, all_flags, samples = [], {}, {}
    for label, run, emb, flags, keep in measured:
        sample = subsample(keep, n, subsample_seed) if n is not None else keep
        if equal_n:
            samples[label] = [run.ids[i] for i in sample]
        flagged = {f["index"] for f in flags}
        exact = {f["index"] for f in flags if f["kind"] == "exact"}
        texts = [run.instructions[i] for i in sample]
        row = {
            "method": label,
            "path": str(run.path),
            "status": run.status,
            "kept": run.kept,
            "removed": len(flagged) if remove_contaminated else None,
            "evaluated": len(keep),
            "measured": len(sample),
            **_metrics(texts, emb[sample], eval_data[HELDOUT][2], settings),
            "contaminated": len(flagged),
            "contaminated_exact": len(exact),
            "contaminated_near": len(flagged - exact),
            "contamination_rate": round(len(flagged) / run.kept, 4) if run.kept else None,
            "contaminated_by_set": {s: len({f["index"] for f in flags if f["eval_set"] == s}) for s in sets},
            "calls": run.calls,
            "tokens": run.tokens,
            "usd": run.usd,
            "calls_per_kept": run.calls_per_kept,
            "tokens_per_kept": run.tokens_per_kept,
            "usd_per_kept": run.usd_per_kept,
        }
        rows.append(row)
        all_flags[label] = flags
    return Comparison(rows, settings, all_flags, samples)
