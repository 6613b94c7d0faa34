"""LM routing: turn the config's roles into ``dspy.LM`` objects, via LiteLLM.

DSPy 3.4 routes known providers through its own lm15 engine unless told
otherwise; every LM here is built with ``engine="litellm"`` so that routing,
retries and the cost map are LiteLLM's for every provider, the embedded one
included. Swapping a provider is a config edit: nothing below names one.

``check_role`` runs before a run directory is created, so a wrong model
string, a missing key or a dead server is reported up front, once.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlparse

import dspy

from codeclm_dspy import embedded
from codeclm_dspy.config import Config, RoleConfig
from codeclm_dspy.errors import ProviderError

ROLES = ("strong", "target", "judge")


@dataclass(frozen=True)
class LMRoles:
    """The three LMs a CodecLM run talks to."""

    strong: dspy.LM
    target: dspy.LM
    judge: dspy.LM


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
    if not key:
        raise ProviderError(
            f"models.{name}: the environment variable {role.api_key_env} (api_key_env) is not set"
        )
    return key


def _check_reachable(name: str, api_base: str) -> None:
    url = urlparse(api_base)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ProviderError(f"models.{name}.api_base '{api_base}' is not an http(s) URL")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=5).close()
    except OSError as exc:
        raise ProviderError(
            f"models.{name}: cannot reach api_base {api_base} ({exc.strerror or exc}); is the server running?"
        ) from None


def check_role(name: str, role: RoleConfig) -> None:
    """Fail fast if a role cannot work: provider, model file, key, server.

    Raises:
        ProviderError: with a message naming the role and what to fix.
    """
    import litellm

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


def build_lm(name: str, role: RoleConfig, cache: bool = True) -> dspy.LM:
    """A ``dspy.LM`` for one role, routed through LiteLLM."""
    check_role(name, role)
    kwargs = {**role.sampling(), **role.extra_params}
    if role.model.startswith(f"{embedded.PROVIDER}/"):
        embedded.register(role.model)
    elif role.structured_output:
        import litellm

        litellm.register_model(
            {
                role.model: {
                    "litellm_provider": provider_of(role.model),
                    "mode": "chat",
                    "supports_response_schema": True,
                }
            }
        )
    if role.api_base:
        kwargs["api_base"] = role.api_base
    key = _api_key(name, role)
    if key is not None:
        kwargs["api_key"] = key
    return dspy.LM(
        role.model,
        engine="litellm",
        cache=cache,
        num_retries=role.num_retries,
        timeout=role.timeout,
        **kwargs,
    )


def build_lms(config: Config) -> LMRoles:
    """Check every role, then build the three LMs."""
    roles = config.models.roles()
    for name, role in roles.items():
        check_role(name, role)
    return LMRoles(**{n: build_lm(n, r, cache=config.engine.cache) for n, r in roles.items()})
