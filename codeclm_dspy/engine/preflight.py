"""Checks made before a run starts: each role's provider, model file, key and server.

``check_role`` runs before a run directory is created, so a malformed
``api_base``, a wrong model string, a missing key or a dead server is
reported up front, once. A role with several deployments fails only when
none of them can be reached; a dead one is named in a warning and the run
goes on with the others (``deployments.py`` routes around it).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import unicodedata
from urllib.parse import urlsplit

from codeclm_dspy import secrets
from codeclm_dspy.config import RoleConfig
from codeclm_dspy.engine import embedded
from codeclm_dspy.engine.deployments import COOLDOWN_S
from codeclm_dspy.engine.usage import priced
from codeclm_dspy.errors import ConfigError, ProviderError

logger = logging.getLogger(__name__)


def provider_of(model: str) -> str:
    """The LiteLLM provider a model string routes to.

    Raises:
        ProviderError: LiteLLM does not know the provider.
    """
    import litellm

    if model.startswith(f"{embedded.PROVIDER}/"):
        return embedded.PROVIDER
    litellm.suppress_debug_info = True  # its own hint would be a second message
    try:
        return litellm.get_llm_provider(model=model)[1]
    except Exception:
        prefix = model.split("/", 1)[0] if "/" in model else model
        raise ProviderError(
            f"unknown provider in model '{model}': LiteLLM cannot route '{prefix}'. Use a LiteLLM "
            "model string such as openai/gpt-4o-mini, anthropic/claude-3-5-haiku-latest, "
            "gemini/gemini-2.0-flash, hosted_vllm/<name> with api_base, or "
            "embedded/smollm2-135m-instruct"
        ) from None


def api_key(where: str, env: str | None) -> str | None:
    """The key in the variable ``env`` names (registered for scrubbing), None if it names none."""
    if env is None:
        return None
    key = os.environ.get(env, "")
    secrets.register(key)
    if not key:
        raise ProviderError(f"models.{where}: the environment variable {env} (api_key_env) is not set")
    return key


def shown(api_base: str) -> str:
    """``api_base`` fit for a one-line message: escaped, any password in it masked."""
    masked = re.sub(r"(//[^/@]*?:)[^/@]*@", r"\1***@", api_base)
    return masked.encode("unicode_escape").decode("ascii")


def check_api_base(name: str, api_base: str) -> tuple[str, int]:
    """The host and port of a role's ``api_base``, checked before anything runs.

    ``urlparse`` takes almost anything and fails only later, inside a
    request, with a message that names neither the role nor the field (an
    out-of-range port is a ``ValueError`` at ``.port``; a NUL byte passes).

    Raises:
        ProviderError: naming the role and what is wrong with the URL.
    """
    where = f"models.{name}.api_base '{shown(api_base)}'"
    for i, char in enumerate(api_base):
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp"):
            raise ProviderError(
                f"{where} holds a control character or space ({char!r} at position {i}); remove it"
            )
    try:
        url = urlsplit(api_base)
    except ValueError as exc:
        raise ProviderError(f"{where} is not a URL: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise ProviderError(f"{where} is not an http(s) URL (write http://host:port/v1)")
    if not url.hostname:
        raise ProviderError(f"{where} names no host (write http://host:port/v1)")
    host_port = url.netloc.rpartition("@")[2]
    after_host = host_port.rpartition("]")[2] if host_port.startswith("[") else host_port
    if ":" not in after_host:
        return url.hostname, 443 if url.scheme == "https" else 80
    port = after_host.partition(":")[2]
    if not (port.isascii() and port.isdigit()):
        raise ProviderError(f"{where} has a port that is not a number ('{port}')")
    if not 1 <= int(port) <= 65535:
        raise ProviderError(f"{where} has port {int(port)}, outside 1-65535")
    return url.hostname, int(port)


def _dial(host: str, port: int) -> str | None:
    """Why a TCP connection to ``host:port`` fails, or None once one opens."""
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        return str(exc.strerror or exc)
    except UnicodeError:  # IDNA refuses the host: a label empty or over 63 characters
        return "its host name is not a valid DNS name"
    return None


def check_reachable(name: str, api_base: str) -> None:
    failure = _dial(*check_api_base(name, api_base))
    if failure:
        raise ProviderError(
            f"models.{name}: cannot reach api_base {shown(api_base)} ({failure}); is the server running?"
        )


def check_role(name: str, role: RoleConfig) -> None:
    """Fail fast if a role cannot work: provider, model file, key, server.

    Raises:
        ProviderError: with a message naming the role and what to fix.
    """
    if role.deployments:
        check_deployments(name, role)
        return
    if role.api_base is not None:
        check_api_base(name, role.api_base)
    provider = provider_of(role.model)
    if provider == embedded.PROVIDER:
        try:
            embedded.model_file(role.model.split("/", 1)[1])
        except FileNotFoundError as exc:
            raise ProviderError(f"models.{name}: {exc}") from None
        return
    api_key(name, role.api_key_env)
    if role.api_base:
        check_reachable(name, role.api_base)
    elif role.api_key_env is None:
        check_environment(name, role.model)


def check_environment(where: str, model: str) -> None:
    """A model reached without ``api_key_env`` needs its provider's own variables set."""
    import litellm

    missing = litellm.validate_environment(model=model).get("missing_keys") or []
    if missing:
        raise ProviderError(
            f"models.{where}: {model} needs {', '.join(missing)} in the environment, "
            "or name the variable that holds the key with api_key_env"
        )


def check_deployments(name: str, role: RoleConfig) -> None:
    """``check_role`` for each deployment: all well formed and keyed, at least one reachable."""
    entries, dead = role.endpoints(), []
    for i, entry in enumerate(entries):
        where = f"{name}.deployments.{i}"
        provider_of(entry.model)
        api_key(where, entry.api_key_env)
        if entry.api_base is None:
            if entry.api_key_env is None:
                check_environment(where, entry.model)
            continue
        failure = _dial(*check_api_base(where, entry.api_base))
        if failure:
            dead.append(f"{shown(entry.api_base)} ({failure})")
    if len(dead) == len(entries):
        raise ProviderError(
            f"models.{name}: cannot reach any of its deployments: {', '.join(dead)}; are the servers running?"
        )
    if dead:
        logger.warning(
            "models.%s: cannot reach deployment %s; the run goes on with the others, trying it again every %.0f s",
            name,
            ", ".join(dead),
            COOLDOWN_S,
        )


def check_usd_cap(max_usd: float | None, roles: dict[str, RoleConfig]) -> None:
    """A USD cap counts only the calls LiteLLM can price; say so before it is relied on.

    A self-hosted model, or a hosted one newer than LiteLLM's cost map, has
    no price: its cost is unknown, never $0, so it adds nothing to
    ``max_usd``. A cap that no role's calls count toward could never stop the
    run, so it is refused; one that some roles escape is run with a warning
    naming them. ``max_calls`` and ``max_tokens`` bound every role.

    Raises:
        ConfigError: ``max_usd`` is set and no role's model has a price.
    """
    if max_usd is None:
        return
    served = {
        f"{name} ({model})": model.startswith(f"{embedded.PROVIDER}/") or priced(model)
        for name, role in roles.items()
        for model in [entry.model for entry in role.endpoints()] or [role.model]
    }
    unpriced = [role for role, known in served.items() if not known]
    if unpriced and not any(served.values()):
        raise ConfigError(
            f"max_usd can never be reached: LiteLLM has no price for {', '.join(unpriced)}, "
            "so their cost is unknown, not counted; bound the run with max_calls or max_tokens instead"
        )
    if unpriced:
        logger.warning(
            "max_usd counts only priced calls: LiteLLM has no price for %s; their calls "
            "count toward max_calls and max_tokens, not max_usd",
            ", ".join(unpriced),
        )
