"""A server that takes requests and answers none: when read timeouts stop the run.

One read timeout fails only its item (``retries.stops_the_run``): the server
took the request, and one long answer can outlast a timeout. But read
timeouts of one role in a row, with no answer between, say the server is
hung, overloaded or stuck, and failing every remaining item one timeout at a
time would end the run "complete" with nothing in it. ``CallEngine`` counts
them per role and raises what ``hung`` returns.
"""

from __future__ import annotations

from typing import Any

from codeclm_dspy.engine.retries import connection_failure, endpoint, in_process
from codeclm_dspy.errors import ProviderStopped

# Read timeouts of one role in a row, with no answer from it between, that
# stop the run: one slow prompt fails its item, but this many say the server
# takes requests and answers none (hung, overloaded, a stuck GPU). At a 15%
# rate of random timeouts, 8 in a row happen about once in 4 million calls.
TIMEOUT_STREAK = 8
# Fewer suffice before the role's first answer of the session: a run against a
# server hung from the start would otherwise fail every seed and finish empty.
FIRST_TIMEOUTS = 3


def is_read_timeout(exc: BaseException) -> bool:
    """A request the server took but did not answer in time (not a failed connection)."""
    import litellm

    return isinstance(exc, litellm.Timeout) and not in_process(exc) and connection_failure(exc) is None


def hung(
    role: str, connection: dict[str, Any], streak: int, answered: bool, retries: int
) -> ProviderStopped | None:
    """The run-stopping form of ``streak`` read timeouts in a row, once there are enough.

    Enough is ``TIMEOUT_STREAK``, or ``FIRST_TIMEOUTS`` while the role has not
    ``answered`` any request this session. The items that timed out before
    are not lost: their calls are not in the journal, so the resumed run
    sends them again.
    """
    if streak < (TIMEOUT_STREAK if answered else FIRST_TIMEOUTS):
        return None
    limit = connection.get("timeout")
    attempts = (f"{limit:g} s, " if limit else "") + f"{retries + 1} attempt{'s' if retries else ''} each"
    return ProviderStopped(
        f"the {role} model's provider at {endpoint(connection)} ({connection.get('model')}) answered "
        f"none of {streak} requests in a row within models.{role}.timeout ({attempts}); everything "
        "so far is saved: run the same command again to resume once it answers, or raise the "
        "timeout if its answers are that slow"
    )
