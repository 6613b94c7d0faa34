"""Keep API keys out of everything the project writes or prints.

Keys live only in the environment and in the call engine's connections. Provider error
messages, though, can quote a key or an ``Authorization`` header back (some
servers echo the request), and those messages end up in rejected.jsonl,
manifest.json and the terminal. Every key that ``routing`` reads is
registered here, and ``scrub`` masks it, and any bearer token, wherever text
leaves the process: rows, the journal, the cache, the manifest, messages.
"""

from __future__ import annotations

import re
import threading

_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
_KNOWN: set[str] = set()
_LOCK = threading.Lock()
MASK = "***"


def register(value: str | None) -> None:
    """Remember a secret so ``scrub`` masks it from now on."""
    if value and len(value) >= 4:
        with _LOCK:
            _KNOWN.add(value)


def registered_in(text: str, min_chars: int = 16) -> bool:
    """Whether ``text`` holds a registered secret of at least ``min_chars`` characters.

    The floor keeps a local server's placeholder key ("EMPTY", "none") from
    matching ordinary prose (the quality gates' ``secret`` check).
    """
    with _LOCK:
        known = [secret for secret in _KNOWN if len(secret) >= min_chars]
    return any(secret in text for secret in known)


def scrub(text: str) -> str:
    """``text`` with every registered secret and bearer token masked."""
    if not text:
        return text
    for secret in sorted(_KNOWN, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return _BEARER.sub(r"\1" + MASK, text)
