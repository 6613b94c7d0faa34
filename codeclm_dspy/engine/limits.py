"""Per-role concurrency and rate limits, enforced before a request leaves.

``retries.py`` retries what a provider refuses; LiteLLM's Router has
``rpm``/``tpm`` settings, but they pick among deployments rather than make a
caller wait, so with one deployment per role they turn a burst into 429s.
Waiting here, before the request is sent, keeps a run under the provider's
limits instead of bouncing off them: at most ``concurrency`` requests in flight, at
most ``rpm`` started and ``tpm`` tokens used in any sliding minute.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from contextlib import asynccontextmanager


class RoleLimiter:
    """Holds requests back until one of this role may start (on the engine's loop).

    Args:
        concurrency: requests in flight at once.
        rpm: requests started per minute (None: no limit).
        tpm: tokens (prompt + completion) per minute (None: no limit). Tokens
            are known only after a call, so this limit holds new requests
            back once the last minute's calls used the allowance.
        window_s: the length of the sliding "minute" (tests shorten it).
    """

    def __init__(
        self, concurrency: int, rpm: int | None = None, tpm: int | None = None, window_s: float = 60.0
    ):
        self.window_s = window_s
        self._slots = asyncio.BoundedSemaphore(concurrency)
        self.rpm, self.tpm = rpm, tpm
        self._starts: deque[float] = deque()
        self._tokens: deque[tuple[float, int]] = deque()
        self._token_sum = 0
        self._window = asyncio.Lock()  # one waiter at a time checks the windows, in arrival order

    def _wait_s(self, now: float) -> float:
        """Seconds until both minute windows have room (0: go now)."""
        while self._starts and now - self._starts[0] >= self.window_s:
            self._starts.popleft()
        while self._tokens and now - self._tokens[0][0] >= self.window_s:
            self._token_sum -= self._tokens.popleft()[1]
        wait = 0.0
        if self.rpm is not None and len(self._starts) >= self.rpm:
            wait = max(wait, self._starts[0] + self.window_s - now)
        if self.tpm is not None and self._token_sum >= self.tpm and self._tokens:
            wait = max(wait, self._tokens[0][0] + self.window_s - now)
        return wait

    @asynccontextmanager
    async def slot(self):
        """Hold one request slot for the duration of the block."""
        async with self._slots:
            if self.rpm is not None or self.tpm is not None:
                async with self._window:
                    while (wait := self._wait_s(time.monotonic())) > 0:
                        await asyncio.sleep(wait)
                    self._starts.append(time.monotonic())
            yield

    def used(self, tokens: int) -> None:
        """Report a finished request's tokens against the per-minute limit."""
        if self.tpm is None or tokens <= 0:
            return
        self._tokens.append((time.monotonic(), tokens))
        self._token_sum += tokens
