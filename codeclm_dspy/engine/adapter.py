"""The adapter every structured step uses: DSPy's ``JSONAdapter``, with per-signature work done once.

DSPy builds a pydantic model from a signature's output fields, and its JSON
schema, on every call, and writes the system message (field descriptions,
structure, task) anew; at hundreds of calls per second that was about a
seventh of the engine's CPU (benchmarks/engine.py, profiled). A signature
never changes (DSPy makes a new signature class for new instructions or
fields), so both are kept per signature and reused.
"""

from __future__ import annotations

import copy
import threading
import weakref
from typing import Any

import dspy


class CachingJSONAdapter(dspy.JSONAdapter):
    """``dspy.JSONAdapter`` that chooses each signature's ``response_format`` once."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._formats: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._system: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def format_system_message(self, signature) -> str:
        with self._lock:
            text = self._system.get(signature)
        if text is None:
            text = super().format_system_message(signature)
            with self._lock:
                self._system[signature] = text
        return text

    def _prepare_response_format(self, lm, lm_kwargs, signature):
        capabilities = ("response_format" in lm.supported_params, lm.supports_response_schema)
        with self._lock:
            chosen = self._formats.setdefault(signature, {}).get(capabilities)
        if chosen is None:
            probe: dict[str, Any] = {}
            super()._prepare_response_format(lm, probe, signature)
            chosen = (probe.get("response_format"),)
            with self._lock:
                self._formats[signature][capabilities] = chosen
        if chosen[0] is not None:
            # a dict may be changed downstream; a pydantic class is shared as DSPy shares it
            fmt = chosen[0]
            lm_kwargs["response_format"] = copy.deepcopy(fmt) if isinstance(fmt, dict) else fmt


ADAPTER = CachingJSONAdapter()
