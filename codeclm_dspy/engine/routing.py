"""LM routing: turn the config's roles into DSPy LMs that call LiteLLM.

DSPy 3.4 routes known providers through its own lm15 engine, bypassing
LiteLLM. Here every role is a ``RoutedLM`` whose requests go through one
``CallEngine`` and ``litellm.completion``, so routing, error mapping, backoff
and the cost map are LiteLLM's for every provider, the embedded one
included. Swapping a provider is a config edit: nothing below names one.

``check_role`` runs before a run directory is created, so a malformed
``api_base``, a wrong model string, a missing key or a dead server is
reported up front, once.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

import dspy

from codeclm_dspy import secrets
from codeclm_dspy.config import Config, RoleConfig
from codeclm_dspy.engine import embedded
from codeclm_dspy.engine.budget import Budget
from codeclm_dspy.engine.cache import RequestCache
from codeclm_dspy.engine.calls import CallEngine, Journal
from codeclm_dspy.engine.limits import RoleLimiter
from codeclm_dspy.engine.lm import RoutedLM
from codeclm_dspy.engine.retries import deployment
from codeclm_dspy.engine.usage import UsageMeter
from codeclm_dspy.errors import ProviderError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LMRoles:
    """The three LMs a CodecLM run talks to, and the engine behind them."""

    strong: dspy.BaseLM
    target: dspy.BaseLM
    judge: dspy.BaseLM
    engine: CallEngine | None = None


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


def _api_key(name: str, role: RoleConfig) -> str | None:
    if role.api_key_env is None:
        return None
    key = os.environ.get(role.api_key_env, "")
    secrets.register(key)
    if not key:
        raise ProviderError(
            f"models.{name}: the environment variable {role.api_key_env} (api_key_env) is not set"
        )
    return key


def _shown(api_base: str) -> str:
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
    where = f"models.{name}.api_base '{_shown(api_base)}'"
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


def _check_reachable(name: str, api_base: str) -> None:
    host, port = check_api_base(name, api_base)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise ProviderError(
            f"models.{name}: cannot reach api_base {_shown(api_base)} ({exc.strerror or exc}); "
            "is the server running?"
        ) from None


def check_role(name: str, role: RoleConfig) -> None:
    """Fail fast if a role cannot work: provider, model file, key, server.

    Raises:
        ProviderError: with a message naming the role and what to fix.
    """
    import litellm

    if role.api_base is not None:
        check_api_base(name, role.api_base)
    provider = provider_of(role.model)
    if provider == embedded.PROVIDER:
        try:
            embedded.model_file(role.model.split("/", 1)[1])
        except FileNotFoundError as exc:
            raise ProviderError(f"models.{name}: {exc}") from None
        return
    _api_key(name, role)
    if role.api_base:
        _check_reachable(name, role.api_base)
    elif role.api_key_env is None:
        missing = litellm.validate_environment(model=role.model).get("missing_keys") or []
        if missing:
            raise ProviderError(
                f"models.{name}: {role.model} needs {', '.join(missing)} in the environment, "
                "or name the variable that holds the key with api_key_env"
            )


def _schema_support(role: RoleConfig) -> tuple[bool, set[str]]:
    """Whether DSPy should send a JSON schema to this role, and its params."""
    import litellm

    provider = provider_of(role.model)
    try:
        params = set(
            litellm.get_supported_openai_params(model=role.model, custom_llm_provider=provider) or ()
        )
    except Exception:
        logger.debug(
            "LiteLLM does not know the parameters of %s; sending none it would drop",
            role.model,
            exc_info=True,
        )
        params = set()
    if role.structured_output == "auto":
        try:
            schema = litellm.supports_response_schema(model=role.model, custom_llm_provider=provider)
        except Exception:
            logger.debug(
                "LiteLLM has no schema support on record for %s; asking for JSON without one",
                role.model,
                exc_info=True,
            )
            schema = False
        return bool(schema), params | ({"response_format"} if schema else set())
    return role.structured_output != "off", params | {"response_format"}


def build_lms(
    config: Config,
    *,
    state: Journal | None = None,
    meter: UsageMeter | None = None,
    check: bool = True,
) -> LMRoles:
    """Check every role, then build the call engine and the three role LMs.

    Args:
        config: roles under ``models``, limits and caches under ``engine``.
        state: the run's journal (resume and replay); None in memory.
        meter: live accounting; a fresh one if None.
        check: preflight every role first (see ``check_role``).
    """
    roles = config.models.roles()
    for name, role in roles.items():
        if check:
            check_role(name, role)
        elif role.api_base is not None:
            check_api_base(name, role.api_base)  # no network, but never a malformed URL
    keys = {name: _api_key(name, role) for name, role in roles.items()}
    for role in roles.values():
        if role.model.startswith(f"{embedded.PROVIDER}/"):
            embedded.register(role.model)
    engine_cfg = config.engine
    spent = state.spent() if state else {}
    engine = CallEngine(
        {name: deployment(role, keys[name]) for name, role in roles.items()},
        limiters={n: RoleLimiter(r.concurrency, r.rpm, r.tpm) for n, r in roles.items()},
        num_retries={n: r.num_retries for n, r in roles.items()},
        state=state,
        cache=RequestCache(engine_cfg.cache_path()) if engine_cfg.cache else None,
        budget=Budget(
            engine_cfg.budget, spent.get("calls", 0), spent.get("tokens", 0), spent.get("usd", 0.0)
        ),
        meter=meter,
        max_in_flight=engine_cfg.max_in_flight,
    )
    lms = {}
    for name, role in roles.items():
        schema, params = _schema_support(role)
        sampling = {**role.sampling(), **role.extra_params}
        lms[name] = RoutedLM(
            name,
            role.model,
            engine,
            structured_output=role.structured_output,
            schema_support=schema,
            params=params,
            **sampling,
        )
    return LMRoles(**lms, engine=engine)
