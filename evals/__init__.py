"""Measuring generated data: the paper's CRR, and metrics that need no fine-tuning.

from evals import crr, verdict, coverage, contamination
"""

from evals.crr import CRRResult, crr, verdict
from evals.metrics import (
    contamination,
    coverage,
    distinct_n,
    mean_nn_similarity,
    mean_pairwise_distance,
    near_duplicate_rate,
    precision,
)

__all__ = [
    "BenchmarkError",
    "Item",
    "as_seeds",
    "load_benchmark",
    "split",
    "CRRResult",
    "contamination",
    "coverage",
    "crr",
    "distinct_n",
    "mean_nn_similarity",
    "mean_pairwise_distance",
    "near_duplicate_rate",
    "precision",
    "verdict",
]
