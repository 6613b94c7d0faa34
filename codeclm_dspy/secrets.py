"""Keep API keys and credentials out of everything the project writes or prints.

Keys live only in the environment and in the call engine's connections. Provider
error messages, though, can quote a key or an ``Authorization`` header back (some
servers echo the request), and a model can write a key into an answer. Every key
that ``routing`` reads is registered here, and two functions mask what must not
leave the process:

- ``scrub`` for messages, manifests and logs: every registered key, every bearer
  token and every credential of a well-known shape.
- ``scrub_model_text`` for text a model wrote (answers, and the journal, cache
  and rows that hold them). The call engine applies it to every answer as it
  arrives, so the pipeline, the judge and a resumed session all see the same
  text, and the ``secret`` quality gate refuses it by its mask. Here a short
  registered "key" (a local server's ``EMPTY`` or ``sk-no-key-required``) is
  left alone, since in prose it is an ordinary word, and a credential must look
  random, so ``sk-your-key-here`` in a how-to answer survives.

Credential shapes are written by hand: no library we use names them, and they are
a few patterns.
"""

from __future__ import annotations

import re
import threading

MASK = "***"
TEXT_MASK = "[masked secret]"  # in model text "***" is Markdown, and the gate looks for this
# A registered key this long or more is masked in model text (see above).
MIN_TEXT_KEY_CHARS = 16

# Credentials by the shape their issuers give them, and a bearer token after its keyword.
CREDENTIALS = {
    "OpenAI-style key": r"\bsk-[A-Za-z0-9_-]{32,}",
    "AWS access key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "GitHub token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{50,})",
    "Slack token": r"\bxox[abpe]-[A-Za-z0-9-]{20,}",
    "Google API key": r"\bAIza[0-9A-Za-z_-]{35}",
    "Hugging Face token": r"\bhf_[A-Za-z0-9]{34,}",
}
# What each shape starts with: a substring test is several times faster than the
# patterns, and every answer is scrubbed.
_PREFIXES = ("sk-", "AKIA", "ASIA", "github_pat_", "xox", "AIza", "hf_", *(f"gh{c}_" for c in "pousr"))
_BEARER = re.compile(r"(Bearer\s+)([A-Za-z0-9._~+/=-]+)", re.I)
_CREDENTIAL = re.compile("|".join(f"(?:{pattern})" for pattern in CREDENTIALS.values()))
_PLACEHOLDER = re.compile(r"example|your|x{4}|\.\.\.", re.I)
_KNOWN: set[str] = set()
_LOCK = threading.Lock()


def register(value: str | None) -> None:
    """Remember a secret so ``scrub`` masks it from now on."""
    if value and len(value) >= 4:
        with _LOCK:
            _KNOWN.add(value)


def looks_random(token: str) -> bool:
    """A credential-shaped token that is not a placeholder: mixed characters, many distinct."""
    classes = sum(any(test(c) for c in token) for test in (str.islower, str.isupper, str.isdigit))
    return classes >= 2 and len(set(token)) >= 10 and not _PLACEHOLDER.search(token)


def credential_kind(text: str) -> str | None:
    """The kind of the first random-looking well-known credential in ``text``, if any."""
    for kind, pattern in CREDENTIALS.items():
        if any(looks_random(found) for found in re.findall(pattern, text)):
            return kind
    return None


def _mask_known(text: str, min_chars: int, mask: str) -> str:
    with _LOCK:
        known = sorted((s for s in _KNOWN if len(s) >= min_chars), key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, mask)
    return text


def _mask_shapes(text: str, mask: str, every_bearer: bool) -> str:
    """``text`` with random-looking credentials (and bearer tokens: all, or random ones) masked."""
    if "bearer" in text.lower():
        text = _BEARER.sub(
            lambda m: m.group(1) + mask if every_bearer or looks_random(m.group(2)) else m.group(0), text
        )
    if any(prefix in text for prefix in _PREFIXES):
        text = _CREDENTIAL.sub(lambda m: mask if looks_random(m.group(0)) else m.group(0), text)
    return text


def scrub(text: str) -> str:
    """``text`` with every registered key, bearer token and credential masked (for messages)."""
    if not text:
        return text
    return _mask_shapes(_mask_known(text, 4, MASK), MASK, every_bearer=True)


def scrub_model_text(text: str) -> str:
    """``text`` a model wrote, with long registered keys and random-looking credentials masked."""
    if not text:
        return text
    return _mask_shapes(_mask_known(text, MIN_TEXT_KEY_CHARS, TEXT_MASK), TEXT_MASK, every_bearer=False)


def masked_in(text: str) -> bool:
    """Whether model text held a secret: masked already, or one ``scrub_model_text`` would mask."""
    return TEXT_MASK in text or scrub_model_text(text) != text
