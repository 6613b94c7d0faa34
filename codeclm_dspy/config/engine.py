"""The ``engine:`` section: how a run executes (none of it changes what the method produces)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from codeclm_dspy.config.base import _Strict


class BudgetConfig(BaseModel):
    """Caps for the whole run (across resumes); None means no cap.

    Only calls that reach a provider count: answers replayed from the run's
    own journal or served by the request cache are free.
    """

    # strict: `max_calls: true` is not one call; NaN and infinity are not caps
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)

    max_calls: int | None = Field(default=None, ge=1, le=1_000_000_000)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000_000_000)
    max_usd: float | None = Field(default=None, gt=0, le=10_000_000)


class BatchConfig(_Strict):
    """Provider batch APIs (``engine/batch_rounds.py``, docs/batch.md).

    Attributes:
        enabled: the run switch. True (``codeclm generate --batch``): batch every
            role whose provider has a batch API, unless its section says
            ``batch: false``. False (``--online``): no batches at all, whatever
            the roles say. Unset: only the roles whose section says ``batch: true``.
        poll_s: seconds between looks at a batch in flight.
        retry_failed: a line that came back with an error, or unanswered from
            an expired batch: ``next_round`` (in the next batch) or ``online``
            (at once, through the usual path with its retries).
        max_attempts: batches a request may go out in before its item fails
            with the line's error.
        completion_window: the provider's window (OpenAI offers only 24h).
        max_requests, max_bytes: one batch's limits (OpenAI: 50,000 requests,
            200 MB); more waiting requests go out as several batches.
    """

    enabled: bool | None = None
    poll_s: float = Field(default=30.0, gt=0, le=3600)
    retry_failed: Literal["next_round", "online"] = "next_round"
    max_attempts: int = Field(default=3, ge=1, le=100)
    completion_window: Literal["24h"] = "24h"
    max_requests: int = Field(default=50_000, ge=1, le=1_000_000)
    max_bytes: int = Field(default=190_000_000, ge=1024, le=10_000_000_000)


class EngineConfig(_Strict):
    """How the run executes; none of this changes what the method produces.

    Attributes:
        workers: items (seeds, metadata, instructions) worked on at once.
            Each item makes its calls one after another, so to keep a role
            with ``concurrency: N`` busy, use at least N workers.
        parse_retries: fresh attempts when an answer does not parse.
        cache: share answers across runs through the request cache.
        cache_dir: where the request cache lives (default: the
            ``CODECLM_CACHE_DIR`` environment variable, else
            ``~/.cache/codeclm-dspy``).
        budget: caps on calls, tokens and USD.
        max_in_flight: requests in flight across all roles at once (None: only
            the per-role ``concurrency`` limits). Set it when the roles share
            one server, whose capacity no single role's limit describes.
        batch: provider batch APIs (see ``BatchConfig``).
        senders: child processes that make the calls of roles served from an
            ``api_base`` (``engine/senders.py``): 0 sends from the run's own
            process. One process tops out near 500 calls a second on LiteLLM's
            own CPU cost; set 1 or 2 (at most the cores left beside the run)
            for a fast server at high concurrency. Answers, retries, budgets
            and journal are the same either way.
    """

    workers: int = Field(default=16, ge=1, le=1024)
    max_in_flight: int | None = Field(default=None, ge=1, le=10_000)
    senders: int = Field(default=0, ge=0, le=64)
    parse_retries: int = Field(default=2, ge=0, le=100)
    cache: bool = True
    cache_dir: str | None = None
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    batch: BatchConfig = Field(default_factory=BatchConfig)

    def cache_path(self) -> Path:
        """The request cache's SQLite file."""

        root = (
            self.cache_dir or os.environ.get("CODECLM_CACHE_DIR") or Path.home() / ".cache" / "codeclm-dspy"
        )
        return Path(root).expanduser() / "requests.sqlite"
