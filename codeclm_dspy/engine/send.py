"""One attempt at a request: which LiteLLM call carries it, and how long it may take.

``retries.py`` loops over attempts; this module makes one. A server gets
``litellm.acompletion`` (or its role's Router, for several deployments), a
custom provider that only answers synchronously gets ``litellm.completion``
on a thread, and the role's timeout is enforced here because not every
LiteLLM client honours it.
"""

from __future__ import annotations

import asyncio
from typing import Any


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
    try:
        async with asyncio.timeout(limit + TIMEOUT_GRACE_S if limit else None):
            return await attempt
    except TimeoutError as exc:
        provider = request["model"].split("/", 1)[0]
        raise litellm.Timeout(f"no answer within {limit} s", request["model"], provider) from exc


# the client's own timeout, when it has one, fires first and says more
TIMEOUT_GRACE_S = 1.0


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
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
        },
    }
