"""Retries, backoff and timeouts for every provider call.

A request that meets a rate limit (429), a server error (5xx, 408, 409), a
timeout or a dropped connection is sent again up to the role's
``num_retries`` times. The wait is LiteLLM's own ``calculate_retry_after``,
the one its Router uses: the provider's ``Retry-After`` when it gives one,
else 0.5 s doubling up to 8 s, plus up to 0.75 s of random jitter so that
many workers do not retry in lockstep. tenacity runs the loop. Errors a retry
cannot fix (bad request, unknown model, bad key) are raised at once.

Why not ``litellm.Router.completion``: its synchronous path starts a new
event loop for every request, which cost a fifth of the engine's throughput
on a 2-core machine (131 against 161 calls/s against a 0 ms server, see
benchmarks/engine.py). ``litellm.completion`` with the same backoff keeps
LiteLLM's routing, error mapping and cost map without that overhead.

``stops_the_run`` sorts what is left after the retries: errors that say the
provider as a whole is unusable stop the run (resumable), and anything else
fails only the item that made the call.
"""

from __future__ import annotations

from typing import Any

import tenacity

from codeclm_dspy.config import RoleConfig


def deployment(role: RoleConfig, key: str | None) -> dict[str, Any]:
    """The connection part of a role's LiteLLM arguments (holds the key)."""
    params: dict[str, Any] = {"model": role.model, "timeout": role.timeout}
    if role.api_base:
        params["api_base"] = role.api_base
    if key:
        params["api_key"] = key
    return params


def _in_process(exc: BaseException) -> bool:
    """An error from the embedded llama.cpp models: no network to blame.

    LiteLLM reports any error of a custom provider as a connection error;
    for an in-process model it is the item's problem (say, a prompt longer
    than the context), so it is neither retried nor allowed to stop the run.
    """
    return getattr(exc, "llm_provider", None) == "embedded"


def is_transient(exc: BaseException) -> bool:
    """True for errors that a later attempt may not meet."""
    import litellm

    if _in_process(exc):
        return False
    if isinstance(exc, litellm.Timeout | litellm.APIConnectionError | litellm.RateLimitError):
        return True
    if isinstance(exc, litellm.InternalServerError | litellm.ServiceUnavailableError):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and litellm.should_retry(status) and not _client_fault(exc)


def _client_fault(exc: BaseException) -> bool:
    import litellm

    return isinstance(exc, litellm.BadRequestError | litellm.AuthenticationError | litellm.NotFoundError)


def _backoff(retries: int):
    def wait(state: tenacity.RetryCallState) -> float:
        import litellm

        exc = state.outcome.exception() if state.outcome else None
        headers = getattr(exc, "litellm_response_headers", None) or getattr(
            getattr(exc, "response", None), "headers", None
        )
        return litellm.calculate_retry_after(
            remaining_retries=retries - state.attempt_number + 1,
            max_retries=retries,
            response_headers=headers if headers is not None and hasattr(headers, "get") else None,
        )

    return wait


def complete_with_retries(connection: dict[str, Any], messages: list[dict], params: dict, retries: int):
    """``litellm.completion`` with backoff, jitter and ``Retry-After``."""
    import litellm

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(is_transient),
        wait=_backoff(retries),
        stop=tenacity.stop_after_attempt(retries + 1),
        reraise=True,
    )
    return retrying(litellm.completion, messages=messages, num_retries=0, **connection, **params)


def stops_the_run(exc: BaseException) -> bool:
    """True when retrying other items would only repeat this error.

    Bad credentials, an unknown model, a server that cannot be reached and a
    rate limit that outlasted every retry all say the same thing about every
    remaining request, so the run stops (and can be resumed) instead of
    failing its items one by one. A timeout fails only its item.
    """
    import litellm

    if isinstance(exc, litellm.Timeout) or _in_process(exc):  # Timeout subclasses APIConnectionError
        return False
    fatal = (
        litellm.AuthenticationError,
        litellm.PermissionDeniedError,
        litellm.NotFoundError,
        litellm.APIConnectionError,
        litellm.RateLimitError,
        litellm.ServiceUnavailableError,
        litellm.BudgetExceededError,
    )
    return isinstance(exc, fatal)
