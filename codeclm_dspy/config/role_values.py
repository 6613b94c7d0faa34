"""What a role's ``api_key_env`` and ``extra_params`` may hold.

Both go straight to the provider: a variable's value as the key, the
parameters into every request body. So the config refuses, before any call,
a variable that holds no key, a parameter the engine sets itself (passed
through, it would quietly undo one of the engine's guarantees), and a value
JSON cannot carry.
"""

from __future__ import annotations

import math
import re
from typing import Any

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# Variables every shell sets that never hold a key: naming one sends, say, the PATH to a provider.
_NOT_KEYS = frozenset(
    ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "LANG", "TERM", "HOSTNAME", "TMPDIR")
)


def api_key_env_name(value: str | None) -> str | None:
    """The name of the variable that holds a role's key (never the key, never PATH)."""
    if value is not None and not _ENV_NAME.fullmatch(value):
        raise ValueError(
            "api_key_env takes the NAME of an environment variable (e.g. OPENAI_API_KEY), "
            "never the key itself"
        )
    if value in _NOT_KEYS:
        raise ValueError(f"api_key_env names {value}, which holds no API key; name the variable that does")
    return value


# extra_params keys the engine owns: passed through, each would quietly undo
# one of its guarantees, so the config refuses them and says where they go.
ENGINE_OWNS = {
    "model": "the role's model string is models.<role>.model (it is part of every request key)",
    "messages": "each step writes its own messages",
    "api_base": "give models.<role>.api_base (or deployments)",
    "base_url": "give models.<role>.api_base (or deployments)",
    "api_key": "give the NAME of an environment variable in models.<role>.api_key_env",
    "timeout": "give models.<role>.timeout",
    "num_retries": "give models.<role>.num_retries (the engine retries, with backoff)",
    "max_retries": "give models.<role>.num_retries (the engine retries, with backoff)",
    "temperature": "give models.<role>.temperature",
    "max_tokens": "give models.<role>.max_tokens",
    "max_completion_tokens": "give models.<role>.max_tokens (the engine sends it as the provider expects)",
    "top_p": "give models.<role>.top_p",
    "stream": "the engine needs each answer whole; it cannot take a stream",
    "n": "one answer per request: each answer is its own request, journal entry and cost",
    "response_format": "each step asks for its own output schema (see models.<role>.structured_output)",
}


def passable_params(value: dict[str, Any]) -> dict[str, Any]:
    """``extra_params`` that leave the engine's own settings alone and travel as JSON."""
    for key in value:
        if key in ENGINE_OWNS:
            raise ValueError(f"extra_params cannot set {key!r}: {ENGINE_OWNS[key]}")
    _json_only(value, "extra_params")
    return value


def _json_only(value: Any, where: str) -> None:
    """Refuse what a request body cannot carry: YAML's binary, dates and sets, NaN and infinity.

    Every parameter goes to the provider as JSON and into the manifest and the
    request key; a value JSON cannot hold would fail there, or change on the way.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string")
            _json_only(item, f"{where}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _json_only(item, f"{where}[{n}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value}: NaN and infinity are not numbers a provider takes")
    elif value is not None and not isinstance(value, str | int | float | bool):
        raise ValueError(
            f"{where} is a {type(value).__name__}; give text, a number, true/false, a list or a mapping"
        )
