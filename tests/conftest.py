import contextlib
import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import codeclm_dspy  # noqa: F401  (sets up LiteLLM before tests import it)
from tests import one_cpu, scripted


def pytest_collection_modifyitems(config, items):
    """The llama.cpp tests go first: they are the longest, so under xdist they start at once (tests/one_cpu.py)."""
    items.sort(key=lambda item: not one_cpu.runs_llama(item))  # stable: the order is otherwise kept


@pytest.fixture(autouse=True)
def llama_on_one_cpu(request):
    with one_cpu.one_cpu() if one_cpu.runs_llama(request.node) else contextlib.nullcontext():
        yield


@pytest.fixture(autouse=True)
def private_request_cache(tmp_path, monkeypatch):
    """Every test gets its own request cache, never the user's ~/.cache."""
    monkeypatch.setenv("CODECLM_CACHE_DIR", str(tmp_path / "request-cache"))


@pytest.fixture
def script():
    """The scripted provider, reset, with handlers for a well-behaved run."""
    s = scripted.install()
    s.handlers = {
        "encode": lambda role, i, p: {"use_case": "question answering", "skills": ["cooking", "chemistry"]},
        "check_metadata": lambda role, i, p: {"plausible": True},
        "decode": lambda role, i, p: {
            "new_instructions": [f"Question {n} about {i['use_case']}" for n in range(int(i["count"]))]
        },
        "rubrics": lambda role, i, p: {
            "rubrics": [{"rubric": f"rubric {k}", "action": f"action {k}"} for k in range(4)]
        },
        "improve": lambda role, i, p: {"improved_instruction": i["instruction"] + " (harder)"},
        "respond": lambda role, i, p: f"{role.upper()} answer",
        "judge": lambda role, i, p: {"score_1": 5, "score_2": 5},
    }
    return s


@pytest.fixture
def lms():
    return scripted.lms()
