"""Per-step accounting: calls, tokens, USD and parse failures.

``CallEngine`` reports every answer here with where it came from:
``provider`` (a billed call), ``cache`` (the shared request cache) or
``journal`` (replayed from this run's own record on resume). Only provider
calls cost anything. Prices come from LiteLLM's local cost map; a model it
has no price for is reported as unknown (None), never as free.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import defaultdict
from typing import Any

logger = logging.getLogger(__name__)

SOURCES = ("provider", "cache", "journal")


@functools.cache
def _unit_prices(model: str) -> tuple[float, float] | None:
    """USD per prompt token and per completion token, looked up once per model.

    LiteLLM's lookup costs about a millisecond, which at hundreds of calls
    per second is a real share of a run's CPU; prices are linear in tokens
    for the chat models this project calls.
    """
    import litellm

    try:
        per_prompt, _ = litellm.cost_per_token(model=model, prompt_tokens=1_000_000, completion_tokens=0)
        _, per_completion = litellm.cost_per_token(model=model, prompt_tokens=0, completion_tokens=1_000_000)
    except Exception:
        logger.debug(
            "no price known for %s (a self-hosted server?); its USD is unknown", model, exc_info=True
        )
        return None
    return per_prompt / 1_000_000, per_completion / 1_000_000


def priced(model: str) -> bool:
    """Whether LiteLLM's cost map has a price for ``model``: its calls count toward ``max_usd``."""
    return _unit_prices(model) is not None


def spare_litellm_pricing(model: str) -> None:
    """Give LiteLLM a zero price for a self-hosted model it has no price for.

    LiteLLM prices every answer again for its own logging, which this
    project never reads (``usd_of`` prices calls). For a model missing from
    its cost map that lookup walks the whole map on every answer: measured on
    the stub server, about a fifth of a run's CPU. A zero entry makes the
    lookup direct. Our own price is looked up first and cached, so the model
    stays unpriced (unknown, never free) in manifests and budgets.

    Call it only for a role served from its own ``api_base``: a hosted model
    that LiteLLM cannot price still costs money, and a user's own LiteLLM
    callbacks should not log it as free.
    """
    import litellm

    if _unit_prices(model) is not None or model in litellm.model_cost:
        return
    provider = model.split("/", 1)[0] if "/" in model else "openai"
    free = dict.fromkeys(
        (
            "input_cost_per_token",
            "output_cost_per_token",
            "cache_creation_input_token_cost",
            "cache_read_input_token_cost",
        ),
        0.0,
    )
    litellm.register_model({model: {**free, "litellm_provider": provider, "mode": "chat"}})


def usd_of(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD for one call by LiteLLM's cost map; None when the model has no price."""
    prices = _unit_prices(model)
    if prices is None:
        return None
    return prompt_tokens * prices[0] + completion_tokens * prices[1]


def count_missing(model: str, messages: list[dict], answer: dict[str, Any]) -> bool:
    """Fill in the token counts a provider did not report, with LiteLLM's tokenizer; True if any.

    Some OpenAI-compatible servers send no ``usage`` block, or a broken one
    (``send.token_count`` turns it into None). Zero tokens would make such calls
    free and invisible to a token budget; an estimate keeps both honest, and
    the run warns once per model that its counts are estimates, and the
    answer's usage says so (``estimated``), so the manifest can count the
    calls whose tokens, and so USD, are estimates. A count of 0 for text that
    is not empty is missing too: no prompt is zero tokens.
    """
    usage = answer["usage"]
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if prompt and (completion or (completion == 0 and not answer.get("content"))):
        return False  # the provider counted both: every call of a well-behaved server
    import litellm

    estimated = False
    if prompt is None or (not prompt and messages):  # a batch line has no messages at hand: 0
        usage["prompt_tokens"] = litellm.token_counter(model=model, messages=messages) if messages else 0
        estimated = True
    if completion is None or (not completion and answer.get("content")):
        usage["completion_tokens"] = litellm.token_counter(model=model, text=answer.get("content") or "")
        estimated = True
    if estimated:
        usage["estimated"] = True  # journaled with the answer: the manifest counts such calls
    if estimated and model not in _ESTIMATED:
        _ESTIMATED.add(model)
        logger.warning(
            "%s reported no token usage for a call; its tokens are counted by LiteLLM's tokenizer", model
        )
    return estimated


_ESTIMATED: set[str] = set()  # models already warned about


def unread_answer(model: str, messages: list[dict]) -> tuple[dict[str, Any], float | None]:
    """What to book for an answer that arrived but could not be read (``send.unreadable``), and its USD.

    Its prompt was paid for: the prompt's tokens, estimated, and their price;
    nothing for the completion, which is unknown.
    """
    import litellm

    prompt = litellm.token_counter(model=model, messages=messages) if messages else 0
    # not through count_missing: its warning would say the server sent no usage
    usage = {"prompt_tokens": prompt, "completion_tokens": 0, "estimated": True}
    return {"content": "", "finish_reason": None, "usage": usage}, usd_of(model, prompt, 0)


class UsageMeter:
    """Thread-safe live totals for this session (the progress display reads them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.calls = dict.fromkeys(SOURCES, 0)
        self.tokens = 0
        self.usd: float | None = 0.0  # None once a paid call had no price: unknown, never free
        self._parses: dict[str, dict[str, int]] = defaultdict(lambda: {"attempts": 0, "parse_failures": 0})

    def add(self, source: str, usage: dict | None, usd: float | None) -> None:
        """Count one answer by where it came from (see ``SOURCES``)."""
        with self._lock:
            self.calls[source] += 1
            if source == "provider":
                usage = usage or {}
                self.tokens += int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0)
                self.usd = None if self.usd is None or usd is None else self.usd + usd

    def note_parse(self, step: str, ok: bool) -> None:
        """Count one structured-output attempt of a step and whether it parsed."""
        with self._lock:
            row = self._parses[step]
            row["attempts"] += 1
            row["parse_failures"] += 0 if ok else 1

    def parse_report(self) -> dict[str, dict[str, Any]]:
        """Parse attempts and failures per step, with the failure rate."""
        with self._lock:
            rows = {k: dict(v) for k, v in sorted(self._parses.items())}
        for row in rows.values():
            row["failure_rate"] = round(row["parse_failures"] / row["attempts"], 4)
        return rows

    def session(self) -> dict[str, Any]:
        """This session's calls by source, and what it paid (for manifests)."""
        with self._lock:
            return {
                "provider_calls": self.calls["provider"],
                "cache_hits": self.calls["cache"],
                "replayed": self.calls["journal"],
                "tokens": self.tokens,
                "usd": self.usd,
            }

    def status(self) -> str:
        """One line for the progress display: calls/s, tokens, spend."""
        with self._lock:
            made, hits, tokens, usd = self.calls["provider"], self.calls["cache"], self.tokens, self.usd
            replayed = self.calls["journal"]
        rate = made / max(time.monotonic() - self.started, 1e-9)
        extra = f", {hits} cached" if hits else ""
        extra += f", {replayed} replayed" if replayed else ""
        spend = "USD unknown" if usd is None else f"${usd:.4f}"
        return f"{made} calls ({rate:.1f}/s{extra}), {tokens:,} tokens, {spend}"


def usage_report(rows: list[tuple]) -> dict[str, Any]:
    """Calls, tokens and USD per step and in total, from the run journal.

    Args:
        rows: ``RunState.usage_rows()``; the journal covers every session of
            a resumed run, so this is the whole run's spend.

    Returns:
        The paid totals (provider calls only), ``cache_hits``, per-step rows,
        and ``standalone``: calls, tokens and USD counting cache hits too,
        what the run would cost alone with a cold cache (for comparisons).
        ``estimated_calls`` counts the paid calls whose provider reported no
        usable token counts (``count_missing``): their tokens and USD are
        LiteLLM's tokenizer's estimate, not the bill.
    """
    steps: dict[str, dict[str, Any]] = {}
    total = {"calls": 0, "cache_hits": 0, "tokens": 0, "usd": 0.0, "estimated_calls": 0}
    standalone = {"calls": 0, "tokens": 0, "usd": 0.0}
    for step, model, source, calls, prompt, completion, usd, unpriced, estimated in sorted(rows, key=str):
        entry = steps.setdefault(
            step, {"calls": 0, "cache_hits": 0, "tokens": 0, "usd": 0.0, "estimated_calls": 0, "models": []}
        )
        cost = None if unpriced else usd
        tokens = (prompt or 0) + (completion or 0)
        standalone["calls"] += calls
        standalone["tokens"] += tokens
        standalone["usd"] = None if standalone["usd"] is None or cost is None else standalone["usd"] + cost
        if source != "provider":
            entry["cache_hits"] += calls
            total["cache_hits"] += calls
            continue
        entry["models"] = sorted({*entry["models"], model})
        entry["calls"] += calls
        entry["estimated_calls"] += estimated
        total["estimated_calls"] += estimated
        entry["tokens"] += tokens
        entry["usd"] = None if entry["usd"] is None or cost is None else entry["usd"] + cost
        total["calls"] += calls
        total["tokens"] += tokens
        total["usd"] = None if total["usd"] is None or cost is None else total["usd"] + cost
    return {**total, "standalone": standalone, "steps": steps}
