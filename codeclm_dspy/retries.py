"""Retries, backoff and timeouts: LiteLLM's Router, one deployment per role.

The Router retries rate limits (429), server errors (5xx), timeouts and
dropped connections with exponential backoff plus random jitter (LiteLLM's
``calculate_retry_after``: 0.5 s doubling up to 8 s, plus up to 0.75 s of
jitter), and honours a provider's ``Retry-After``. Errors a retry cannot fix
(bad request, unknown model, bad key) are raised at once. Cooldowns are off:
with a single deployment per role there is nothing to fail over to, and a
cooled-down role would refuse every request for a minute.

``classify`` sorts what is left after the retries: errors that say the
provider as a whole is unusable stop the run (resumable), and anything else
fails only the item that made the call.
"""

from __future__ import annotations

from typing import Any

from codeclm_dspy.config import RoleConfig


def build_router(roles: dict[str, RoleConfig], keys: dict[str, str | None]):
    """A Router whose model groups are the role names ("strong", ...)."""
    import litellm

    model_list = []
    for name, role in roles.items():
        params: dict[str, Any] = {"model": role.model, "timeout": role.timeout}
        if role.api_base:
            params["api_base"] = role.api_base
        if keys.get(name):
            params["api_key"] = keys[name]
        model_list.append({"model_name": name, "litellm_params": params})
    return litellm.Router(
        model_list=model_list,
        num_retries=0,  # each call passes its role's num_retries
        disable_cooldowns=True,
        set_verbose=False,
    )


def stops_the_run(exc: BaseException) -> bool:
    """True when retrying other items would only repeat this error.

    Bad credentials, an unknown model, a server that cannot be reached and a
    rate limit that outlasted every retry all say the same thing about every
    remaining request, so the run stops (and can be resumed) instead of
    failing its items one by one.
    """
    import litellm

    fatal = (
        litellm.AuthenticationError,
        litellm.PermissionDeniedError,
        litellm.NotFoundError,
        litellm.APIConnectionError,
        litellm.RateLimitError,
        litellm.ServiceUnavailableError,
        litellm.BudgetExceededError,
    )
    if isinstance(exc, litellm.Timeout):  # a subclass of APIConnectionError in some versions
        return False
    return isinstance(exc, fatal)
