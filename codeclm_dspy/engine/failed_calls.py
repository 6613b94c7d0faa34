"""A server that answers every request with an error: when failed calls stop the run.

A call that still fails after its retries fails only its item: a 500 can be
one prompt's bad luck. But such failures of one role in a row, with no
answer between, say the server is broken (every request a 500, an HTML
error page from a proxy, a body with no ``choices``, a port that does not
speak HTTP), and failing every remaining item one call at a time would end
the run "complete" with nothing in it. ``CallEngine`` counts them per role,
an answer resets the count, and it raises what ``failing`` returns.

The errors that have their own rule are left to it: a connection that
cannot be made stops at once (``retries.unreachable``), read timeouts count
in ``timeouts.py`` and unreadable paid answers in ``unreadable_answers.py``.
A request the server refused as malformed (400) says nothing about the next
one (a prompt past the context window, say), and the embedded models' errors
are their item's own, so neither counts.
"""

from __future__ import annotations

from typing import Any

from codeclm_dspy.engine.retries import endpoint, in_process, provider_message
from codeclm_dspy.engine.timeouts import is_read_timeout
from codeclm_dspy.errors import ProviderStopped

# Failed calls of one role in a row, each after all its retries, with no answer
# between, that stop the run. With 2 retries, a server failing 10% of attempts
# at random fails a call once in 1,000, and 8 calls in a row essentially never.
FAILURE_STREAK = 8
# Fewer suffice before the role's first answer of the session: a server that
# fails from the start would otherwise fail every seed and finish empty.
FIRST_FAILURES = 3


def counts(exc: BaseException) -> bool:
    """Whether ``exc`` says something about the server's next answer, not only this request's."""
    import litellm

    if in_process(exc) or is_read_timeout(exc) or isinstance(exc, litellm.BadRequestError):
        return False
    return isinstance(exc, Exception)


def failing(
    role: str, connection: dict[str, Any], streak: int, answered: bool, exc: BaseException, retries: int
) -> ProviderStopped | None:
    """The run-stopping form of ``streak`` failed calls in a row, once there are enough.

    Enough is ``FAILURE_STREAK``, or ``FIRST_FAILURES`` while the role has not
    ``answered`` this session. The failed items are not lost: their calls are
    not in the journal, so the resumed run sends them again.
    """
    if streak < (FAILURE_STREAK if answered else FIRST_FAILURES):
        return None
    return ProviderStopped(
        f"the {role} model's provider at {endpoint(connection, exc)} ({connection.get('model')}) failed "
        f"{streak} requests in a row, {retries + 1} attempt{'s' if retries else ''} each (the last: "
        f"{provider_message(exc, 240)}); everything so far is saved: run the same command again to "
        "resume once it answers"
    )
