"""Dataset metrics that need no fine-tuning: coverage, diversity, duplicates, leaks.

Each works on sentence embeddings (one row per instruction, any model) and,
where text matters, on the instructions themselves. Rows are L2-normalised
here, so a dot product is a cosine similarity.

- coverage: the share of held-out instructions (the target distribution)
  whose nearest generated instruction is at least ``threshold`` similar;
  precision is the converse (generated rows near some held-out row).
- mean nearest-neighbour similarity, from held-out to generated.
- diversity: distinct-n over the texts, mean pairwise cosine distance.
- near-duplicate rate: generated rows with another generated row at least
  ``threshold`` similar.
- contamination: generated rows equal (after normalising case and spaces)
  or near to any item of any eval set, with the eval set and item id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

BLOCK = 2048  # rows per similarity block: memory stays O(BLOCK x n), not O(n x n)


def _unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError("embeddings must be a 2-D array (one row per instruction)")
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms == 0, 1, norms)


def _nearest(queries: np.ndarray, keys: np.ndarray, skip_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the index and cosine similarity of its nearest key row."""
    q, k = _unit(queries), _unit(keys)
    best = np.full(len(q), -np.inf, dtype=np.float32)
    where = np.zeros(len(q), dtype=np.int64)
    for start in range(0, len(q), BLOCK):
        sims = q[start : start + BLOCK] @ k.T
        if skip_self:
            rows = np.arange(sims.shape[0])
            sims[rows, rows + start] = -np.inf
        where[start : start + BLOCK] = sims.argmax(axis=1)
        best[start : start + BLOCK] = sims.max(axis=1)
    return where, best


def coverage(heldout: np.ndarray, generated: np.ndarray, threshold: float) -> float:
    """Share of held-out rows whose nearest generated row has cosine >= threshold."""
    if len(heldout) == 0 or len(generated) == 0:
        return 0.0
    return float((_nearest(heldout, generated)[1] >= threshold).mean())


def precision(heldout: np.ndarray, generated: np.ndarray, threshold: float) -> float:
    """Share of generated rows whose nearest held-out row has cosine >= threshold."""
    return coverage(generated, heldout, threshold)


def mean_nn_similarity(heldout: np.ndarray, generated: np.ndarray) -> float:
    """Mean cosine from each held-out row to its nearest generated row."""
    return float(_nearest(heldout, generated)[1].mean())


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct word n-grams over all n-grams (lower-cased, whitespace words)."""
    grams = [tuple(w[i : i + n]) for w in (t.lower().split() for t in texts) for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def mean_pairwise_distance(embeddings: np.ndarray) -> float:
    """Mean cosine distance (1 - similarity) over all distinct pairs of rows."""
    e = _unit(embeddings)
    n = len(e)
    if n < 2:
        return 0.0
    total = e.sum(axis=0)
    # sum over i != j of e_i . e_j = |sum e|^2 - sum |e_i|^2, in O(n d)
    pair_sum = float(total @ total) - float((e * e).sum())
    return 1.0 - pair_sum / (n * (n - 1))


def near_duplicate_rate(embeddings: np.ndarray, threshold: float = 0.95) -> float:
    """Share of rows that have another row with cosine >= threshold."""
    if len(embeddings) < 2:
        return 0.0
    return float((_nearest(embeddings, embeddings, skip_self=True)[1] >= threshold).mean())


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def contamination(
    texts: Sequence[str],
    embeddings: np.ndarray,
    eval_sets: dict[str, tuple[Sequence[str], Sequence[str], np.ndarray]],
    threshold: float = 0.9,
) -> list[dict[str, Any]]:
    """Generated rows that repeat, or nearly repeat, an eval item.

    Args:
        texts, embeddings: the generated instructions and their embeddings.
        eval_sets: name -> (item ids, item texts, item embeddings).
        threshold: cosine at or above which a row counts as a near copy.

    Returns:
        One flag per (generated row, eval set) hit: ``index``, ``eval_set``,
        ``eval_id``, ``kind`` ("exact" or "near") and ``similarity``.
    """
    flags = []
    for name, (ids, items, item_embeddings) in eval_sets.items():
        exact = {_norm(t): i for i, t in zip(ids, items, strict=True)}
        where, sims = _nearest(embeddings, item_embeddings)
        for row, text in enumerate(texts):
            if _norm(text) in exact:
                flags.append(
                    {
                        "index": row,
                        "eval_set": name,
                        "eval_id": exact[_norm(text)],
                        "kind": "exact",
                        "similarity": 1.0,
                    }
                )
            elif sims[row] >= threshold:
                flags.append(
                    {
                        "index": row,
                        "eval_set": name,
                        "eval_id": ids[where[row]],
                        "kind": "near",
                        "similarity": round(float(sims[row]), 4),
                    }
                )
    return flags
