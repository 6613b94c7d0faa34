"""A provider's batch API, through LiteLLM: upload, create, find, poll, read the answers.

The requests go out as OpenAI's batch format: one JSONL line per request,
``{"custom_id": <request key>, "method": "POST", "url": "/v1/chat/completions",
"body": <the chat body>}``, the body being what ``litellm.acompletion`` sends
online for the same request (the model's name without its provider prefix,
the messages, the sampling parameters), so an answer does not depend on the
way it travelled. LiteLLM carries it: ``acreate_file`` (purpose ``batch``),
``acreate_batch`` (with our batch's id in ``metadata``), ``aretrieve_batch``,
``alist_batches`` (to find a batch whose creation the process did not live to
record) and ``afile_content`` for the output and error files.

Providers: those whose batches LiteLLM takes in that format with an
``api_base`` and key, ``openai`` (and any OpenAI-compatible server with
``/v1/files`` and ``/v1/batches``, such as ``benchmarks/stub_server.py``) and
``azure``. LiteLLM also batches Vertex AI and Bedrock, through a storage
bucket configured in its own environment variables; that path is not wired
or tested here, so a role on them is refused rather than half-supported.

Prices: LiteLLM's ``batch_cost_calculator`` (the cost map's
``input_cost_per_token_batches`` / ``output_cost_per_token_batches``, or half
the online price where the map has only that); a model without any price
is unknown (None), never free, as online.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from codeclm_dspy.engine.batch_wait import WaitingRequest
from codeclm_dspy.engine.send import token_count
from codeclm_dspy.engine.usage import usd_of
from codeclm_dspy.errors import ConfigError

PROVIDERS = ("openai", "azure")
DONE = ("completed", "failed", "expired", "cancelled")  # a batch in one of these will not change
LIST_PAGES = 5  # pages of 100 batches searched for one whose creation was not recorded


def batch_provider(role: str, model: str) -> str:
    """The LiteLLM provider of ``model`` if it can take batches here.

    Raises:
        ConfigError: the provider has no batch API that this engine drives.
    """
    import litellm

    try:
        _, provider, _, _ = litellm.get_llm_provider(model=model)
    except Exception:
        provider = model.split("/", 1)[0]
    if provider not in PROVIDERS:
        raise ConfigError(
            f"models.{role}: batch needs a provider with a batch API ({', '.join(PROVIDERS)}, or an "
            f"OpenAI-compatible server as openai/<model> with api_base); {model} is on '{provider}'"
        )
    return provider


def jsonl(requests: list[WaitingRequest]) -> bytes:
    """The batch input file for ``requests``."""
    lines = [
        {"custom_id": r.key, "method": "POST", "url": "/v1/chat/completions", "body": r.body}
        for r in requests
    ]
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")


def split(requests: list[WaitingRequest], max_requests: int, max_bytes: int) -> list[list[WaitingRequest]]:
    """``requests`` in chunks within a batch's limits (count and file size), in order."""
    chunks: list[list[WaitingRequest]] = []
    size = 0
    for request in requests:
        line = len(jsonl([request]))
        if not chunks or len(chunks[-1]) >= max_requests or size + line > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append(request)
        size += line
    return chunks


def batch_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD for one batched call at the provider's batch price; None when the model has no price."""
    if usd_of(model, prompt_tokens, completion_tokens) is None:
        return None
    import litellm
    from litellm.cost_calculator import batch_cost_calculator

    usage = litellm.Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )
    prompt_usd, completion_usd = batch_cost_calculator(usage, model)
    return prompt_usd + completion_usd


@dataclass
class Outcome:
    """What came back for one batch: answers and errors by request key."""

    status: str
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class BatchClient:
    """One role's endpoint, for batches.

    Args:
        connection: the role's LiteLLM connection (model, api_base, api_key, timeout).
        provider: its batch provider (``batch_provider``).
    """

    def __init__(self, connection: dict[str, Any], provider: str):
        self._auth = {k: connection[k] for k in ("api_base", "api_key") if connection.get(k)}
        self._auth["custom_llm_provider"] = provider

    async def upload(self, data: bytes) -> str:
        """Upload a batch input file; return its id."""
        import litellm

        made = await litellm.acreate_file(
            file=("codeclm-batch.jsonl", data, "application/jsonl"), purpose="batch", **self._auth
        )
        return made.id

    async def create(self, file_id: str, ours: str, window: str) -> str:
        """Create a batch over an uploaded file, tagged with our id; return the provider's id."""
        import litellm

        made = await litellm.acreate_batch(
            completion_window=window,
            endpoint="/v1/chat/completions",
            input_file_id=file_id,
            metadata={"codeclm_batch": ours},
            **self._auth,
        )
        return made.id

    async def find(self, ours: str) -> str | None:
        """The provider's id of the batch tagged ``ours``, if the provider lists one."""
        import litellm

        after = None
        for _ in range(LIST_PAGES):
            page = await litellm.alist_batches(after=after, limit=100, **self._auth)
            data = list(getattr(page, "data", None) or [])
            for batch in data:
                if (getattr(batch, "metadata", None) or {}).get("codeclm_batch") == ours:
                    return batch.id
            if not data or not getattr(page, "has_more", False):
                return None
            after = data[-1].id
        return None

    async def status(self, batch_id: str):
        """The provider's batch object (``status``, file ids, ``request_counts``)."""
        import litellm

        return await litellm.aretrieve_batch(batch_id=batch_id, **self._auth)

    async def outcome(self, batch) -> Outcome:
        """Answers and errors of a batch that is done, read from its output and error files."""
        found = Outcome(batch.status)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                for line in (await self._content(file_id)).splitlines():
                    if line.strip():
                        _read_line(json.loads(line), found)
        if batch.status != "completed":
            why = _batch_error(batch)
            found.errors = {**found.errors, "*": why}  # every line neither answered nor failed
        return found

    async def _content(self, file_id: str) -> str:
        import litellm

        content = await litellm.afile_content(file_id=file_id, **self._auth)
        return content.content.decode("utf-8")


def _read_line(line: dict[str, Any], found: Outcome) -> None:
    """One output or error line into ``found``: an answer, or the reason there is none."""
    key = line.get("custom_id")
    response = line.get("response") or {}
    body = response.get("body") or {}
    if line.get("error") or response.get("status_code") != 200 or not body.get("choices"):
        error = line.get("error") or body.get("error") or {"message": f"status {response.get('status_code')}"}
        message = error.get("message") if isinstance(error, dict) else str(error)
        code = error.get("code") if isinstance(error, dict) else None
        found.errors[key] = f"batch line failed ({code or response.get('status_code')}): {message}"
        return
    choice = body["choices"][0]
    usage = body.get("usage") or {}
    found.answers[key] = {
        "content": (choice.get("message") or {}).get("content") or "",
        "finish_reason": choice.get("finish_reason"),
        "usage": {name: token_count(usage.get(name)) for name in ("prompt_tokens", "completion_tokens")},
    }


def _batch_error(batch) -> str:
    """Why lines of a batch that did not complete have no answer."""
    errors = getattr(batch, "errors", None)
    data = getattr(errors, "data", None) or []
    detail = "; ".join(str(getattr(e, "message", e)) for e in data[:3])
    return f"batch {batch.status}" + (f": {detail}" if detail else "")
