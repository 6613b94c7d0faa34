"""A server whose answers arrive but cannot be read: when unreadable answers stop the run.

An answer that arrives (HTTP 200) with a body LiteLLM cannot read
(``send.unreadable``: a ``usage`` of the wrong types, say) was paid for, so
``CallEngine`` books it as a call of its own and fails only its item. But
such answers of one role in a row, with no readable answer between, say the
server (or a proxy in front of it) garbles every answer, and failing every
remaining item one paid answer at a time would end the run "complete" with
nothing in it. ``CallEngine`` counts them per role, a readable answer resets
the count, and it raises what ``garbled`` returns. The read-timeout
counterpart is ``timeouts.py``.
"""

from __future__ import annotations

import re
from typing import Any

from codeclm_dspy.engine.retries import endpoint
from codeclm_dspy.errors import ProviderStopped

# Unreadable answers of one role in a row, with no readable answer from it
# between, that stop the run. Fewer than timeouts.py's 8: a timeout can be one
# long prompt's bad luck, but an answer LiteLLM cannot parse is a server or
# proxy bug that garbles the next answer the same way, and each one is paid
# for and fails its item. A server that garbles one answer in ten at random
# makes 5 in a row about once in 100,000 calls, and it is worth a stop anyway.
UNREADABLE_STREAK = 5
# Fewer suffice before the role's first readable answer of the session: one
# may be a fluke, but two with nothing readable before say a server broken
# from the start, which would otherwise pay for and fail every seed.
FIRST_UNREADABLE = 2


def garbled(
    role: str, connection: dict[str, Any], streak: int, answered: bool, exc: BaseException
) -> ProviderStopped | None:
    """The run-stopping form of ``streak`` unreadable answers in a row, once there are enough.

    Enough is ``UNREADABLE_STREAK``, or ``FIRST_UNREADABLE`` while the role
    has not ``answered`` readably this session. The items that got them are
    not lost: each unreadable answer is journaled under a key of its own, so
    budgets and the manifest count it across resumes, and the resumed run,
    finding no answer under the request's key, sends it again.
    """
    if streak < (UNREADABLE_STREAK if answered else FIRST_UNREADABLE):
        return None
    why = reason(exc)
    return ProviderStopped(
        f"the {role} model's provider at {endpoint(connection, exc)} ({connection.get('model')}) sent "
        f"{streak} answers in a row that arrived but LiteLLM could not read ({why + '; ' if why else ''}"
        "each was paid and is counted); everything so far is saved: run the same command again to "
        "resume once its answers can be read"
    )


# "pydantic_core._pydantic_core.ValidationError: 1 validation error for Usage": a raised error's line
_RAISED = re.compile(r"^(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.*)$", re.MULTILINE)
# pydantic's "[type=int_parsing, input_value='many', input_type=str]": the value is the answer's
_VALUE = re.compile(r"\s*\[type=.*$")
_CHAIN = ("During handling", "The above exception", "Traceback", "File ")
REASON_CHARS = 240


def reason(exc: BaseException) -> str:
    """Why LiteLLM could not read the answer, in one short clause ("": it does not say).

    LiteLLM puts the traceback of its failed conversion into the message,
    then the whole answer (``received_args``). The last error raised in that
    traceback, with the lines that explain it (pydantic names the field and
    what was wrong with it), is the reason; the answer itself is left out,
    and so is the value pydantic quotes from it.
    """
    text = str(exc)
    if "Traceback" not in text:
        return ""
    trace = text.split("Traceback", 1)[1].split("received_args=", 1)[0]
    raised = list(_RAISED.finditer(trace))
    if not raised:
        return ""
    last = raised[-1]
    detail = []
    for line in (line.strip() for line in trace[last.end() :].splitlines()):
        if line.startswith(_CHAIN) or len(detail) == 2:
            break
        if line and not line.startswith("For further information"):
            detail.append(_VALUE.sub("", line))
    words = "; ".join([f"{last.group(1)}: {_VALUE.sub('', last.group(2).strip())}", *detail])
    return words if len(words) <= REASON_CHARS else words[: REASON_CHARS - 3] + "..."
