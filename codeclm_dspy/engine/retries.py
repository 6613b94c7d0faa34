"""Retries, backoff and timeouts for every provider call.

A request that meets a rate limit (429), a server error (5xx, 408, 409), a
timeout or a dropped connection is sent again up to the role's
``num_retries`` times. The wait is LiteLLM's own ``calculate_retry_after``,
the one its Router uses: the provider's ``Retry-After`` when it gives one,
else 0.5 s doubling up to 8 s, plus up to 0.75 s of random jitter so that
many workers do not retry in lockstep. tenacity runs the loop. Errors a retry
cannot fix (bad request, unknown model, bad key) are raised at once.

Each attempt (``send.py``) goes out through ``litellm.acompletion`` on the engine's loop
(``event_loop.py``), with LiteLLM's routing, error mapping and cost map; a
role with several deployments sends each attempt through its
``RoleRouter`` instead (``deployments.py``, the connection's ``router``).

``stops_the_run`` sorts what is left after the retries: errors that say the
provider as a whole is unusable stop the run (resumable), and anything else
fails only the item that made the call. A connection that failed is told by
what happened (``connection_failure`` walks the exception chain down to the
socket error), not by the class LiteLLM chose for it: LiteLLM reports a
refused connection to an OpenAI-compatible server as an
``InternalServerError``, which on its own would look like a 500 for that one
request.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import tenacity

from codeclm_dspy.engine.send import send_once, unreadable
from codeclm_dspy.errors import ProviderStopped, ProviderUnreachable, RunStopped, first_line
from codeclm_dspy.secrets import scrub


def in_process(exc: BaseException) -> bool:
    """An error from the embedded llama.cpp models: no network to blame.

    LiteLLM reports any error of a custom provider as a connection error;
    for an in-process model it is the item's problem (say, a prompt longer
    than the context), so it is neither retried nor allowed to stop the run.
    """
    return getattr(exc, "llm_provider", None) == "embedded"


def is_transient(exc: BaseException) -> bool:
    """True for errors that a later attempt may not meet."""
    import litellm

    if in_process(exc) or unreadable(exc):
        return False
    if isinstance(exc, litellm.Timeout | litellm.APIConnectionError | litellm.RateLimitError):
        return True
    if isinstance(exc, litellm.InternalServerError | litellm.ServiceUnavailableError):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and litellm.should_retry(status) and not _client_fault(exc)


def _client_fault(exc: BaseException) -> bool:
    import litellm

    return isinstance(exc, litellm.BadRequestError | litellm.AuthenticationError | litellm.NotFoundError)


def _backoff(retries: int, done: int = 0):
    """tenacity's wait: LiteLLM's ``calculate_retry_after`` for the attempt just failed.

    ``done``: attempts made before tenacity's loop began (the first one, sent
    without it), so the waits are those of one loop over every attempt.
    """

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return _retry_after(exc, retries, state.attempt_number + done)

    return wait


def _retry_after(exc: BaseException | None, retries: int, failed: int) -> float:
    """Seconds to wait after attempt number ``failed`` met ``exc``."""
    import litellm

    headers = getattr(exc, "litellm_response_headers", None) or getattr(
        getattr(exc, "response", None), "headers", None
    )
    return litellm.calculate_retry_after(
        remaining_retries=retries - failed + 1,
        max_retries=retries,
        response_headers=headers if headers is not None and hasattr(headers, "get") else None,
    )


async def complete_with_retries(connection: dict[str, Any], messages: list[dict], params: dict, retries: int):
    """``litellm.acompletion`` with backoff, jitter and ``Retry-After``.

    The first attempt goes out directly: most calls need no other, and
    setting up tenacity's loop costs about half a millisecond of CPU a call
    (measured at 0 ms latency), a fifth of the run's own work per call.
    """
    request = {"messages": messages, "num_retries": 0, **connection, **params}
    try:
        return await send_once(**request)
    except Exception as exc:
        if retries == 0 or not is_transient(exc):
            raise
        failed = exc
    await asyncio.sleep(_retry_after(failed, retries, 1))
    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception(is_transient),
        wait=_backoff(retries, done=1),
        stop=tenacity.stop_after_attempt(retries),
        reraise=True,
    )
    return await retrying(send_once, **request)


def as_stop(exc: BaseException) -> RunStopped | None:
    """The run-stopping form of an error, or None if it fails only its item."""
    if isinstance(exc, RunStopped):
        return exc
    if stops_the_run(exc):
        model = getattr(exc, "model", None)
        whose = f"the provider of {model}" if isinstance(model, str) and model else "the provider"
        return ProviderStopped(
            f"{whose} stopped the run ({provider_message(exc)}); "
            "everything so far is saved; fix the cause and run the same command again to resume"
        )
    return None


def provider_message(exc: BaseException, limit: int = 400) -> str:
    """A provider error in one short line: its first line, links without their query, capped.

    LiteLLM appends a bug-report link whose query string carries a whole
    URL-encoded traceback; the user needs the error, not that.
    """
    text = re.sub(r"(https?://[^\s?]+)\?\S*", r"\1", scrub(first_line(exc)))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def stops_the_run(exc: BaseException) -> bool:
    """True when retrying other items would only repeat this error.

    Bad credentials, an unknown model, a server that cannot be reached and a
    rate limit that outlasted every retry all say the same thing about every
    remaining request, so the run stops (and can be resumed) instead of
    failing its items one by one. A read timeout fails only its item: the
    server took the request, and a long answer to one prompt can outlast it
    (enough of them in a row do stop it: ``timeouts.py``).
    """
    import litellm

    if in_process(exc):
        return False
    if connection_failure(exc) is not None:
        return True
    if isinstance(exc, litellm.Timeout):  # Timeout subclasses APIConnectionError
        return False
    fatal = (
        litellm.AuthenticationError,
        litellm.PermissionDeniedError,
        litellm.NotFoundError,
        litellm.APIConnectionError,
        litellm.RateLimitError,
        litellm.ServiceUnavailableError,
        litellm.BudgetExceededError,
    )
    return isinstance(exc, fatal)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or while handling, once each."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN, errno.EADDRNOTAVAIL}


def _kind(error: BaseException) -> tuple[int, str] | None:
    """How telling ``error`` is about a failed connection (lower: more), and what it says."""
    import httpcore
    import httpx

    if isinstance(error, ssl.SSLError):
        if not hasattr(error, "reason"):
            return None  # aiohttp's wrapper: the ssl.SSLError it was raised from says more
        detail = getattr(error, "verify_message", None) or error.reason or error.strerror or error
        return 0, f"TLS failed ({detail})"
    if isinstance(error, socket.gaierror):
        return 0, f"DNS lookup failed ({error.strerror or error})"
    if isinstance(error, ConnectionRefusedError):
        return 0, "connection refused"
    if isinstance(error, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return 0, "connection reset"
    if isinstance(error, OSError) and error.errno in _UNREACHABLE:
        return 0, os.strerror(error.errno).lower()
    if isinstance(error, httpx.ConnectTimeout | httpcore.ConnectTimeout):
        return 1, "timed out connecting"
    if isinstance(error, httpx.RemoteProtocolError | httpcore.RemoteProtocolError) or (
        type(error).__name__ == "ServerDisconnectedError"  # aiohttp's, without importing it
    ):
        return 2, "the server closed the connection without answering"
    if isinstance(error, httpx.NetworkError | httpcore.NetworkError):
        return 3, f"connection failed ({str(error).strip() or type(error).__name__})"
    return None


def connection_failure(exc: BaseException) -> str | None:
    """What went wrong with the connection behind ``exc``, or None if it was not one.

    The innermost cause names it best (``ConnectionRefusedError`` under
    ``httpx.ConnectError`` under ``openai.APIConnectionError`` under
    LiteLLM's ``InternalServerError``), so the whole chain is searched, the
    most telling kind of failure first. A read timeout is not a connection
    failure (see ``stops_the_run``), nor is any error of the in-process
    embedded models.
    """
    if in_process(exc):
        return None
    if isinstance(told := getattr(exc, "connection_failure", None), str):
        return told  # said by a sender process (senders.py), where the chain was
    kinds = [kind for error in _chain(exc) if (kind := _kind(error)) is not None]
    return min(kinds, key=lambda kind: kind[0])[1] if kinds else None


def _host_port(url: str | None) -> str | None:
    try:
        parts = urlsplit(url or "")
        if not parts.hostname:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return f"[{parts.hostname}]:{port}" if ":" in parts.hostname else f"{parts.hostname}:{port}"


def endpoint(connection: dict[str, Any], exc: BaseException | None = None) -> str:
    """``host:port`` of the server a connection talks to, else its model string.

    Without an ``api_base`` the host is the one the HTTP client dialled, read
    from the innermost exception that recorded its request (LiteLLM's own
    wrappers carry a placeholder URL). Never more of the URL than host and
    port: a query string or user info may hold a key (some providers take
    ``?key=``). A role with several deployments names them all.
    """
    if connection.get("router") is not None:
        return ", ".join(connection["router"].endpoints)
    if connection.get("api_base"):
        found = _host_port(connection["api_base"])
    else:
        found = None
        for error in reversed(list(_chain(exc)) if exc is not None else []):
            try:
                url = getattr(getattr(error, "request", None), "url", None)
            except RuntimeError:  # httpx's ``request`` property when none was set
                continue
            found = _host_port(str(url)) if url is not None else None
            if found:
                break
    return found or str(connection.get("model", "the provider"))


def unreachable(
    role: str, connection: dict[str, Any], exc: BaseException, retries: int
) -> ProviderUnreachable | None:
    """The run-stopping form of a connection failure that outlasted the retries, else None.

    One line naming the endpoint (never a key) and what failed, for the CLI
    to print and the manifest to keep. For a role with several deployments
    the error comes only once every one of them failed to connect in the
    last attempt (``RoleRouter.send`` fails over), so it names them all.
    """
    what = connection_failure(exc)
    if what is None:
        return None
    whom = "any deployment of the {} model at" if connection.get("router") else "the {} model's provider at"
    return ProviderUnreachable(
        f"cannot reach {whom.format(role)} {endpoint(connection, exc)} "
        f"({connection.get('model')}): {what}, {retries + 1} attempt{'s' if retries else ''}; "
        "everything so far is saved: run the same command again to resume once it answers"
    )
