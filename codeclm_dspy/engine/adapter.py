"""The adapter every structured step uses: DSPy's ``JSONAdapter``, its schemas built once.

DSPy builds a pydantic model from a signature's output fields, and its JSON
schema, on every call; at hundreds of calls per second that was about a
tenth of the engine's CPU (benchmarks/engine.py, profiled). A signature's
output fields never change (DSPy makes a new signature class for new
instructions or fields), so the ``response_format`` chosen for a signature
and an LM's capabilities is kept per signature and reused.
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
        self._lock = threading.Lock()

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
