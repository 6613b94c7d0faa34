"""LM routing: turn the config's roles into DSPy LMs that call LiteLLM.

DSPy 3.4 routes known providers through its own lm15 engine, bypassing
LiteLLM. Here every role is a ``RoutedLM`` whose requests go through one
``CallEngine`` and ``litellm.completion``, so routing, error mapping, backoff
and the cost map are LiteLLM's for every provider, the embedded one
included. Swapping a provider is a config edit: nothing below names one.

The checks made before a run starts (``check_role``) are in ``preflight.py``.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

import dspy

from codeclm_dspy.config import Config, RoleConfig
from codeclm_dspy.engine import embedded
from codeclm_dspy.engine.budget import Budget
from codeclm_dspy.engine.cache import RequestCache
from codeclm_dspy.engine.calls import CallEngine, Journal
from codeclm_dspy.engine.deployments import RoleRouter
from codeclm_dspy.engine.event_loop import engine_loop
from codeclm_dspy.engine.limits import RoleLimiter
from codeclm_dspy.engine.lm import RoutedLM
from codeclm_dspy.engine.preflight import api_key, check_api_base, check_role, provider_of
from codeclm_dspy.engine.senders import SenderPool
from codeclm_dspy.engine.usage import UsageMeter, spare_litellm_pricing

__all__ = ["LMRoles", "build_lms", "check_role", "provider_of"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LMRoles:
    """The three LMs a CodecLM run talks to, and the engine behind them."""

    strong: dspy.BaseLM
    target: dspy.BaseLM
    judge: dspy.BaseLM
    engine: CallEngine | None = None


def _connection(name: str, role: RoleConfig) -> dict[str, Any]:
    """A role's LiteLLM connection arguments for the engine (the only place its keys are held).

    A role with deployments gets its ``RoleRouter`` under ``router``, and
    under ``api_base`` the endpoint its request keys name (see
    ``RoleConfig.primary_api_base``), which is never sent.
    """
    params: dict[str, Any] = {"model": role.model, "timeout": role.timeout}
    if role.primary_api_base():
        params["api_base"] = role.primary_api_base()
    if role.deployments:
        entries = [
            {
                "model": entry.model,
                "api_base": entry.api_base,
                "api_key": api_key(f"{name}.deployments.{i}", entry.api_key_env),
                "rpm": entry.rpm,
                "tpm": entry.tpm,
            }
            for i, entry in enumerate(role.endpoints())
        ]
        params["router"] = RoleRouter(name, entries)
    elif key := api_key(name, role.api_key_env):
        params["api_key"] = key
    return params


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
    served = [name for name, role in roles.items() if role.api_base is not None and not role.deployments]
    senders = SenderPool(config.engine.senders) if config.engine.senders and served else None
    if senders is not None:  # they import LiteLLM while this process checks the roles
        engine_loop().run(senders.start())
    try:
        for name, role in roles.items():
            _check(name, role, check)
    except BaseException:
        if senders is not None:
            engine_loop().run(senders.close())
        raise
    connections = {name: _connection(name, role) for name, role in roles.items()}
    for name in served if senders is not None else ():
        connections[name]["sender"] = senders  # a custom provider among them stays here (send.py)
    for role in roles.values():
        if role.model.startswith(f"{embedded.PROVIDER}/"):
            embedded.register(role.model)
        served = [(role.model, role.api_base)] + [(e.model, e.api_base) for e in role.endpoints()]
        for model, base in served:
            if base is not None:
                spare_litellm_pricing(model)
    engine_cfg = config.engine
    spent = state.spent() if state else {}
    engine = CallEngine(
        connections,
        limiters={n: RoleLimiter(r.concurrency, r.rpm, r.tpm) for n, r in roles.items()},
        num_retries={n: r.num_retries for n, r in roles.items()},
        state=state,
        cache=RequestCache(engine_cfg.cache_path()) if engine_cfg.cache else None,
        budget=Budget(
            engine_cfg.budget, spent.get("calls", 0), spent.get("tokens", 0), spent.get("usd", 0.0)
        ),
        meter=meter,
        max_in_flight=engine_cfg.max_in_flight,
        senders=senders,
    )
    routers = [c["router"] for c in connections.values() if "router" in c]
    if routers:  # unhook their LiteLLM callbacks once the engine is gone
        weakref.finalize(engine, _close_all, routers).atexit = False
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


def _check(name: str, role: RoleConfig, reach: bool) -> None:
    """Preflight one role (``check_role``), or without the network only its URLs' shape."""
    if reach:
        check_role(name, role)
        return
    if role.api_base is not None:
        check_api_base(name, role.api_base)
    for i, entry in enumerate(role.endpoints()):
        if entry.api_base is not None:
            check_api_base(f"{name}.deployments.{i}", entry.api_base)


def _close_all(routers: list[RoleRouter]) -> None:
    for router in routers:
        router.close()
