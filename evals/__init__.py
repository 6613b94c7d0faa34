"""Measuring generated data: the paper's CRR, and metrics that need no fine-tuning.

    from evals import load_benchmark, split, run_crr, compare, Embedder

- benchmarks in and the seeded 20/80 split: ``benchmarks.py``
- CRR (verdict rule, bootstrap interval): ``crr.py``; run on the engine: ``crr_runner.py``
- coverage, diversity, duplicates, contamination: ``metrics.py``, on ``embeddings.py``
- side-by-side comparison of run directories: ``compare.py``, written out by ``report.py``
- the Self-Instruct and Evol-Instruct baselines: ``baselines/``

Nothing here imports torch or matplotlib until it is used.
"""

from evals.benchmarks import BenchmarkError, Item, as_seeds, load_benchmark, split
from evals.compare import CompareError, Comparison, Run, compare, load_run
from evals.crr import CRRResult, crr, verdict
from evals.crr_runner import run_crr
from evals.embeddings import DEFAULT_EMBEDDER, Embedder, EmbedderError
from evals.metrics import (
    contamination,
    coverage,
    distinct_n,
    mean_nn_similarity,
    mean_pairwise_distance,
    near_duplicate_rate,
    precision,
)
from evals.report import print_table, to_markdown, write_report

__all__ = [
    "DEFAULT_EMBEDDER",
    "BenchmarkError",
    "CRRResult",
    "CompareError",
    "Comparison",
    "Embedder",
    "EmbedderError",
    "Item",
    "Run",
    "as_seeds",
    "compare",
    "contamination",
    "coverage",
    "crr",
    "distinct_n",
    "load_benchmark",
    "load_run",
    "mean_nn_similarity",
    "mean_pairwise_distance",
    "near_duplicate_rate",
    "precision",
    "print_table",
    "run_crr",
    "split",
    "to_markdown",
    "verdict",
    "write_report",
]
