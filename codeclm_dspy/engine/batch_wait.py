"""Calls that wait for a provider batch: the engine's side of batch mode.

In batch mode a run advances in rounds (``runs/batch_rounds.py``). Within a
round (a pass of the pipeline from the start), a call of a batched role
whose answer is neither in the run's journal nor in the request cache is
not sent: ``BatchHold.hold`` notes it as waiting and raises ``AwaitingBatch``,
which ends that item's work for this pass. ``apmap`` (``parallel.py``) lets
every other item run on to its own next waiting call, then raises it once,
which ends the pass: no stage goes on with items missing. The round driver
sends the waiting requests as batches, journals the answers, and runs the
pass again: the answered calls replay from the journal at no cost, and each
item advances to its next waiting call. Online roles answer at once inside
a pass, as ever.

``AwaitingBatch`` derives from ``BaseException``, like ``KeyboardInterrupt``:
code that catches ``Exception`` to fail an item or to try another way (DSPy's
adapters fall back to another response format on any ``Exception``, which
would be a different request) must not take a wait for a failure.

A request whose batch lines failed for good fails its item like any failed
call: ``hold`` raises ``BatchRequestFailed`` with the provider's error. A
request whose line failed, under ``retry_failed: online``, is let through:
``hold`` returns and the engine sends it online, with its usual retries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from codeclm_dspy.errors import CodecLMError


class AwaitingBatch(BaseException):  # a wait, not an error: like KeyboardInterrupt
    """An item waits for an answer that the next batch will bring; not a failure."""


class BatchRequestFailed(CodecLMError):
    """A request's batch lines failed every time it went out (the provider's error inside)."""


@dataclass(frozen=True)
class WaitingRequest:
    """One request a batch will carry: what the provider needs and what the journal records."""

    key: str
    role: str
    step: str
    model: str
    body: dict[str, Any]  # the /v1/chat/completions body, model name as the provider knows it


class BatchHold:
    """The waiting requests of one pass, and the verdicts on requests that failed for good.

    Args:
        roles: the roles whose calls go through batches.
        failed: request key -> the error of a request that may not go out again.
        online: keys to send online instead (their batch lines failed).
    """

    def __init__(self, roles: set[str], failed: dict[str, str] | None = None, online: set[str] | None = None):
        self.roles = frozenset(roles)
        self.failed = dict(failed or {})
        self.online = frozenset(online or ())
        self._waiting: dict[str, WaitingRequest] = {}
        self._lock = threading.Lock()

    def hold(self, key: str, role: str, step: str, model: str, messages: list[dict], params: dict) -> None:
        """Note a request as waiting and raise ``AwaitingBatch``; return if it goes online.

        Raises:
            AwaitingBatch: the request waits for the next batch.
            BatchRequestFailed: the request failed for good (its item fails).
        """
        if key in self.online:
            return
        error = self.failed.get(key)
        if error is not None:
            raise BatchRequestFailed(error)
        bare = model.split("/", 1)[1] if "/" in model else model
        body = {"model": bare, "messages": messages, **params}
        with self._lock:
            self._waiting.setdefault(key, WaitingRequest(key, role, step, model, body))
        raise AwaitingBatch(key)

    def take(self) -> list[WaitingRequest]:
        """The requests this pass left waiting, in the order first asked; the hold is empty after."""
        with self._lock:
            taken, self._waiting = list(self._waiting.values()), {}
        return taken
