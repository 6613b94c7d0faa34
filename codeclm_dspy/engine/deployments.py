"""One role served by several endpoints: replicas of one server, or one provider under several keys.

A role with ``deployments:`` sends every attempt through a LiteLLM
``Router`` of its own: one model group, one entry per deployment with its
key and its ``rpm``/``tpm``. The strategy is ``usage-based-routing-v2``: it
picks, among the deployments still under their own ``rpm`` and ``tpm`` this
clock minute, the one that used the fewest tokens, so each endpoint's limits
hold and the load follows what each has left. The Router never retries
(``num_retries=0``): the loop in ``retries.py`` stays the one retry policy,
with the same semantics as for a role with one endpoint.

What this module adds around the Router:

- Failover inside an attempt. A deployment that cannot be connected to, or
  that took the request and did not answer within the timeout (a hung
  replica), is put in the Router's cooldown for ``COOLDOWN_S`` (the Router
  leaves it out of its choice meanwhile) and the same request goes at once
  to a deployment not yet tried, cooling ones last. The attempt fails, with
  that error, only once every deployment failed; so a dead or hung replica
  costs no item and no retry while another answers, and the run stops
  (``ProviderUnreachable``, or the hung-server rule of ``timeouts.py``) only
  when none answers past the retries. LiteLLM's own cooldown is not enough
  for this: it ignores what it calls connection errors, and its usage
  strategy keeps choosing a dead replica, whose token count, never growing,
  stays the lowest.
- One trial at a time. For the same reason, a deployment that failed is not
  simply let back after its cooldown: it gets one request alone (``_trial``)
  while the Router still leaves it out, and is back once it answers. A hung
  replica so holds one request for a timeout every cooldown, not all of them.
- Waiting for room. When every live deployment is at its limits for the
  clock minute the Router refuses the request; it waits for the next minute
  (the Router counts per clock minute) instead of drawing a 429, as the role
  limiter does (``limits.py``). A prompt larger than every deployment's
  ``tpm`` could never be sent: it fails its item at once.

The Router is built on the engine's loop at first use (its strategy starts a
task on the running loop) and adds callbacks to LiteLLM's process-wide
lists, which ``close`` takes out again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from codeclm_dspy.engine.event_loop import engine_loop
from codeclm_dspy.engine.retries import connection_failure, endpoint
from codeclm_dspy.engine.timeouts import is_read_timeout

GROUP = "codeclm-deployments"
STRATEGY = "usage-based-routing-v2"
COOLDOWN_S = 10.0


class RoleRouter:
    """A LiteLLM Router over one role's deployments, with failover and waiting around it.

    Args:
        role: the role's name; deployment ``i`` gets the Router id ``<role>-<i>``.
        deployments: one dict per deployment: ``model``, and ``api_base``,
            ``api_key``, ``rpm``, ``tpm`` where set.

    Attributes:
        endpoints: the distinct ``host:port`` of the deployments (the model
            string of one without ``api_base``), for messages; never a key.
    """

    def __init__(self, role: str, deployments: list[dict[str, Any]]):
        self.ids = [f"{role}-{i}" for i in range(len(deployments))]
        self.endpoints = list(dict.fromkeys(endpoint(entry) for entry in deployments))
        self._model_list = [
            {
                "model_name": GROUP,
                "litellm_params": {k: v for k, v in entry.items() if v is not None},
                "model_info": {"id": id_},
            }
            for id_, entry in zip(self.ids, deployments, strict=True)
        ]
        self._tpm = [entry.get("tpm") for entry in deployments]
        self._router = None
        # deployment id -> failures (no connection, no answer in time) since its last answer
        self._struck: dict[str, int] = {}
        self._on_trial: set[str] = set()  # struck ones with their one trial request in flight

    def __repr__(self) -> str:  # the model list holds keys: never show it
        return f"RoleRouter({', '.join(self.endpoints)})"

    async def send(
        self, messages: list[dict], model: str | None = None, api_base: str | None = None, **params
    ):
        """One attempt of a request: a due trial or the Router's pick, then each other deployment.

        The next deployment is tried when one cannot be connected to or does
        not answer in time (see the module docstring). ``model`` and
        ``api_base`` are the role's (they made the request's key); each
        deployment sends its own.
        """
        router = self._router or self._build()
        tried: list[str] = []
        trial = await self._trial(router, params.get("timeout"))
        target = trial or GROUP
        try:
            while True:
                try:
                    answer = await router.acompletion(model=target, messages=messages, **params)
                except Exception as exc:
                    failed = getattr(exc, "failed_deployment_id", None)
                    if failed in self.ids and _unanswered(exc):
                        self._struck[failed] = self._struck.get(failed, 0) + 1
                        self._cool_down(router, failed, exc, COOLDOWN_S)
                        tried.append(failed)
                        target = await self._next_untried(router, tried)
                        if target is None:
                            raise
                    elif target == trial and _refused(exc):  # at its rpm: the Router picks instead
                        target = GROUP
                    elif target == GROUP and failed is None and _refused(exc):
                        target = await self._after_refusal(router, messages)
                    else:
                        raise
                else:
                    answered = (getattr(answer, "_hidden_params", None) or {}).get("model_id") or target
                    self._struck.pop(answered, None)
                    if answered == trial:  # it is back: end the cooldown that kept the others off it
                        self._cool_down(router, trial, None, 0.01)
                    return answer
        finally:
            self._on_trial.discard(trial)

    def _build(self):
        import litellm

        self._router = litellm.Router(
            model_list=self._model_list, routing_strategy=STRATEGY, num_retries=0, cooldown_time=COOLDOWN_S
        )
        return self._router

    @staticmethod
    def _cool_down(router, deployment_id: str, exc: BaseException | None, seconds: float) -> None:
        status = getattr(exc, "status_code", None)
        router.cooldown_cache.add_deployment_to_cooldown(
            model_id=deployment_id,
            original_exception=exc or RuntimeError("on trial"),
            exception_status=status if isinstance(status, int) else 503,
            cooldown_time=seconds,
        )

    async def _trial(self, router, timeout: float | None) -> str | None:
        """A struck deployment whose cooldown is over, taken for this one request, or None.

        It stays in cooldown for everyone else while its trial runs (at most
        the request's timeout): the Router would otherwise send it every
        request, its usage being the lowest, and a hung replica would hold
        them all for a timeout each. An answer clears it; a failure strikes
        it again.
        """
        due = set(self._struck) - self._on_trial
        if not due:
            return None
        cooling = await _cooling(router)
        for id_ in self.ids:
            if id_ in due and id_ not in cooling and id_ not in self._on_trial:
                self._on_trial.add(id_)
                self._cool_down(router, id_, None, (timeout or COOLDOWN_S) + COOLDOWN_S)
                return id_
        return None

    async def _next_untried(self, router, tried: list[str]) -> str | None:
        """A deployment not tried in this attempt: not cooling down first, then the least failed."""
        rest = [id_ for id_ in self.ids if id_ not in tried]
        if not rest:
            return None
        cooling = await _cooling(router)
        # min keeps the first of equals
        return min(rest, key=lambda id_: (id_ in cooling, self._struck.get(id_, 0)))

    async def _after_refusal(self, router, messages: list[dict]) -> str:
        """What to send to once the Router had no deployment for a request.

        Every deployment cooling down: try them one by one all the same (the
        cooldown is a guess; the attempt decides), the one that failed least
        since its last answer first: one slow answer from a healthy replica
        must not send every request to a hung one. Otherwise the live ones
        are at their limits for this clock minute: wait for the next one.
        """
        import litellm

        if set(self.ids) <= await _cooling(router):
            return min(self.ids, key=lambda id_: (id_ in self._on_trial, self._struck.get(id_, 0)))
        if all(limit is not None for limit in self._tpm):
            tokens = litellm.token_counter(messages=messages)  # as the strategy counts them
            if tokens > max(self._tpm):
                raise litellm.BadRequestError(
                    message=f"the prompt's {tokens} tokens exceed the tpm of every deployment "
                    f"(at most {max(self._tpm)}): no deployment can take it",
                    model=GROUP,
                    llm_provider="openai",
                )
        await asyncio.sleep(60.0 - time.time() % 60.0 + 0.05)
        return GROUP

    def close(self) -> None:
        """Take the Router's callbacks out of LiteLLM's global lists and stop its task (idempotent)."""
        router, self._router = self._router, None
        if router is None:
            return
        loop = engine_loop()
        if loop.on_loop():
            _discard(router)
        else:
            with contextlib.suppress(RuntimeError):  # the loop already closed (process exit)
                loop.loop.call_soon_threadsafe(_discard, router)


def _unanswered(exc: BaseException) -> bool:
    """The deployment could not be connected to, or took the request and did not answer in time."""
    return connection_failure(exc) is not None or is_read_timeout(exc)


def _refused(exc: BaseException) -> bool:
    """The Router had no deployment for the request (every one at its limits, or cooling down)."""
    import litellm
    from litellm.types.router import RouterRateLimitError

    return isinstance(exc, litellm.RateLimitError | RouterRateLimitError)


async def _cooling(router) -> set[str]:
    from litellm.router_utils.cooldown_handlers import async_get_cooldown_deployments

    return set(await async_get_cooldown_deployments(litellm_router_instance=router, parent_otel_span=None))


def _discard(router) -> None:
    import litellm

    selector = getattr(router, "lowesttpm_logger_v2", None)
    router.discard()
    if selector is not None:  # Router.discard leaves its strategy registered
        selector.retire()
        if isinstance(litellm.callbacks, list):
            litellm.callbacks = [c for c in litellm.callbacks if c is not selector]
