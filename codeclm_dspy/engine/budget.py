"""Run budgets: stop cleanly before spending more than the user allowed.

A budget counts what reached a provider over the whole run, resumes
included (the journal says what earlier sessions spent). Every call asks for
a slot first; when a cap is reached, no new call starts, calls already in
flight finish and are recorded, and the run stops with everything saved.
Raising the cap and running the same command again resumes.

Tokens and USD are only known after a call returns, so a run can pass those
caps by the calls that were in flight when the cap was reached (at most one
per worker); the call cap is exact. A call LiteLLM cannot price adds
nothing to the USD count: ``preflight.check_usd_cap`` names such roles
before the run, and refuses a USD cap that no role's calls count toward.
"""

from __future__ import annotations

import threading

from codeclm_dspy.config.engine import BudgetConfig
from codeclm_dspy.errors import BudgetExhausted


class Budget:
    """Thread-safe spend against the caps of a ``BudgetConfig``."""

    def __init__(self, caps: BudgetConfig, calls: int = 0, tokens: int = 0, usd: float = 0.0):
        self.caps = caps
        self.calls, self.tokens, self.usd = calls, tokens, usd
        self._lock = threading.Lock()

    def _exceeded(self) -> str | None:
        c = self.caps
        if c.max_calls is not None and self.calls >= c.max_calls:
            return f"max_calls={c.max_calls}"
        if c.max_tokens is not None and self.tokens >= c.max_tokens:
            return f"max_tokens={c.max_tokens}"
        if c.max_usd is not None and self.usd >= c.max_usd:
            return f"max_usd={c.max_usd}"
        return None

    def reserve(self) -> None:
        """Claim one call, or raise ``BudgetExhausted`` if a cap is reached."""
        with self._lock:
            reached = self._exceeded()
            if reached:
                raise BudgetExhausted(
                    f"budget reached ({reached}); everything so far is saved. Raise engine.budget "
                    "in the config and run the same command again to resume"
                )
            self.calls += 1

    def release(self) -> None:
        """Give back a claimed call that never reached the provider."""
        with self._lock:
            self.calls -= 1

    def charge(self, tokens: int, usd: float | None) -> None:
        """Add a finished call's tokens and cost."""
        with self._lock:
            self.tokens += tokens
            self.usd += usd or 0.0
