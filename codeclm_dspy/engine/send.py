"""One attempt at a request: which LiteLLM call carries it, and how long it may take.

``retries.py`` loops over attempts; this module makes one. A server gets
``litellm.acompletion`` (or its role's Router, for several deployments), a
custom provider that only answers synchronously gets ``litellm.completion``
on a thread, and the role's timeout is enforced here because not every
LiteLLM client honours it.

That limit allows for LiteLLM's cold start: the first calls of a provider in
a process also import its client code and build its client (about a second
on an idle 2-core machine, more under load), and a run with a short timeout
stopped before its first request reached the server (``FIRST_TIMEOUTS``
read timeouts "in a row"). Until a call of the provider returns in this
process, the limit has ``COLD_START_S`` of grace instead of
``TIMEOUT_GRACE_S``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from codeclm_dspy.engine.litellm_fixes import keep_server_usage


async def send_once(router=None, sender=None, **request):
    """One attempt: ``litellm.acompletion``, or ``litellm.completion`` on a thread for a
    custom provider that only answers synchronously (its handler has no ``acompletion``),
    or the role's own Router when it has several deployments. With sender processes
    (``senders.py``, ``engine.senders``) a server role's attempt runs in one of them.

    For a server, the role's ``timeout`` is also enforced here, around the
    whole attempt: not every LiteLLM client honours it (``aiohttp_openai/``
    does not), and a server that never answers must not hold an item
    forever. A custom provider (the embedded models: in-process, one call at
    a time, so a queued call waits its turn) is left to its own handler.
    """
    import litellm

    keep_server_usage()  # once per process; see litellm_fixes.py
    handler = _custom_handler(request["model"])
    if router is not None:
        attempt = router.send(**request)
    elif handler is not None and type(handler).acompletion is litellm.CustomLLM.acompletion:
        return await asyncio.to_thread(litellm.completion, **request)
    elif sender is not None and handler is None:
        return await sender.send(request)  # the child runs this function: the timeout is kept there
    else:
        attempt = litellm.acompletion(**request)
    # a Router may hold a request back for its deployments' rpm: not a timeout
    limit = None if handler is not None or router is not None else request.get("timeout")
    provider = request["model"].split("/", 1)[0]
    grace = TIMEOUT_GRACE_S if provider in _STARTED else COLD_START_S
    try:
        async with asyncio.timeout(limit + grace if limit else None):
            answer = await attempt
    except TimeoutError as exc:
        raise litellm.Timeout(f"no answer within {limit} s", request["model"], provider) from exc
    _STARTED.add(provider)
    return answer


# the client's own timeout, when it has one, fires first and says more
TIMEOUT_GRACE_S = 1.0
# the grace until a call of the provider has returned in this process (see above)
COLD_START_S = 10.0
_STARTED: set[str] = set()  # LiteLLM provider prefixes with a call returned in this process


def _custom_handler(model: str):
    """The ``CustomLLM`` registered for the model's provider prefix, if any."""
    import litellm

    prefix = model.split("/", 1)[0]
    for entry in litellm.custom_provider_map:
        if entry.get("provider") == prefix:
            return entry.get("custom_handler")
    return None


def plain(raw) -> dict[str, Any]:
    """The parts of a LiteLLM ``ModelResponse`` a run keeps (no headers, no ids).

    A sender process's answer arrives in this form already.
    """
    if isinstance(raw, dict):
        return raw
    choice = raw.choices[0]
    usage = getattr(raw, "usage", None)
    return {
        "content": choice.message.content or "",
        "finish_reason": choice.finish_reason,
        "usage": {
            name: token_count(getattr(usage, name, None)) for name in ("prompt_tokens", "completion_tokens")
        },
    }


def unreadable(exc: BaseException) -> bool:
    """An attempt the server answered (HTTP 200) with a body LiteLLM could not read.

    The provider was paid for it and would be paid again for the same broken
    answer, so it is not retried, and the engine books it as a paid call
    (``calls.py``). LiteLLM raises it as an ``InternalServerError``; its
    message, which a sender process passes on, is all that tells it apart.
    """
    return "Invalid response object" in str(exc)


def token_count(value: Any) -> int | None:
    """A token count the provider reported, or None: missing, negative or not a whole number.

    None is filled in by ``usage.count_missing`` before anything is charged:
    taken as 0, a server that sends no usage would look free, and a
    negative count would lower the budget's total.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
