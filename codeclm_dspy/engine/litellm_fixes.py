"""Work-arounds for LiteLLM bugs that change what a run reports, one function each.

Each one is small, names the LiteLLM versions it was checked against, and
does nothing once LiteLLM does the right thing itself, so upgrading LiteLLM
never double-counts. ``send.send_once`` installs them in every process that
sends (the run's own and each sender process).

``keep_server_usage``: LiteLLM's ``aiohttp_openai/`` client (checked in
1.106.2 and 1.110.2, ``llms/aiohttp_openai/chat/transformation.py``) builds
its answer from the server's JSON field by field and leaves ``usage`` out,
so every call of a vLLM or other OpenAI-compatible server behind it read 0
prompt and 0 completion tokens. ``usage.count_missing`` then counted each
answer again with LiteLLM's tokenizer: an estimate, and about 1.25 ms of CPU
a call on the 2-core benchmark machine, a quarter of the run process's
work. The server's own counts are exact and already in the response.
"""

from __future__ import annotations

import functools
import logging

logger = logging.getLogger(__name__)

_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


@functools.cache
def keep_server_usage() -> None:
    """Make ``aiohttp_openai/`` answers carry the token counts the server sent.

    Only whole, non-negative counts are copied; anything else stays missing
    and ``usage.count_missing`` estimates it, as for a server that sends none.
    """
    import litellm
    from litellm.llms.aiohttp_openai.chat.transformation import AiohttpOpenAIChatConfig

    dropping = AiohttpOpenAIChatConfig.transform_response

    async def transform_response(self, model, raw_response, model_response, *args, **kwargs):
        response = await dropping(self, model, raw_response, model_response, *args, **kwargs)
        usage = getattr(response, "usage", None)
        if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
            return response  # LiteLLM copied them itself
        body = await raw_response.json()  # aiohttp keeps the body: parsed again, not read again
        sent = body.get("usage") if isinstance(body, dict) else None
        if isinstance(sent, dict):
            counts = {k: sent[k] for k in _COUNTS if type(sent.get(k)) is int and sent[k] >= 0}
            if "prompt_tokens" in counts and "completion_tokens" in counts:
                response.usage = litellm.Usage(**counts)
        return response

    AiohttpOpenAIChatConfig.transform_response = transform_response
    logger.debug("aiohttp_openai/ answers now keep the server's token usage")
