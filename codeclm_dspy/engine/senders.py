"""Sender processes: LiteLLM's per-call work on the machine's other cores.

Why: LiteLLM spends about 1.7 ms of CPU on every call (request mapping, its
own pricing and logging of the answer) on top of the HTTP exchange, and a
Python process runs one thread of Python at a time, so a run that sends
everything from its own process cannot pass roughly 500 calls a second
however many cores the machine has (``python -m benchmarks.client_ceiling``).
With ``engine.senders: N`` the run's process keeps every decision (journal,
cache, budget, limits, single flight, retries and what stops the run) and
hands each attempt of a server role to one of N child processes, which call
``litellm.acompletion`` exactly as ``send.py`` would and send back the plain
answer or the error. No library offers this (LiteLLM's Router balances
deployments, not processes), hence the ~200 lines here.

The wire: one JSON object per line over the child's stdin and stdout,
answers out of order, matched by id. A LiteLLM error comes back as its class
name, message, status, ``Retry-After`` and, for a failed connection, what
failed; ``rebuild`` makes the same LiteLLM exception of it, so retries and
``stops_the_run`` decide exactly as they do in-process. A child that exits
(killed, out of memory) stops the run, resumably; a child whose run process
died sees its stdin close and exits.

Run as ``python -m codeclm_dspy.engine.senders``: the child's side.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import RunStopped

logger = logging.getLogger(__name__)

LINE_LIMIT = 1 << 28  # one answer per line: long completions must fit


class SenderDied(RunStopped):
    """A sender process exited while the run needed it; everything so far is saved."""


class SenderPool:
    """``count`` child processes, started on the engine's loop (``start``, or the first send).

    Args:
        count: how many processes; each takes requests from any role.
    """

    def __init__(self, count: int):
        self.count = count
        self._children: list[asyncio.subprocess.Process] = []
        self._waiting: list[dict[int, asyncio.Future]] = []  # per child: id -> its answer's future
        self._ids = itertools.count()
        self._starting: asyncio.Lock | None = None
        self._died: SenderDied | None = None
        self._closing = False  # children that exit now were asked to
        self._readers: list[asyncio.Task] = []  # the loop keeps only weak references to tasks

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        """One attempt in a child: the plain answer, or the LiteLLM error it met, raised here."""
        await self.start()
        if self._died is not None:
            raise self._died
        k = min(range(self.count), key=lambda i: len(self._waiting[i]))  # the least busy child
        ident = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[k][ident] = future
        try:
            child = self._children[k]
            try:
                child.stdin.write(json.dumps({"id": ident, "request": request}).encode() + b"\n")
                await child.stdin.drain()
            except (ConnectionError, RuntimeError):
                pass  # the child is gone: its reader fails this future with SenderDied
            reply = await future
        finally:
            self._waiting[k].pop(ident, None)
        if "error" in reply:
            raise rebuild(reply["error"])
        return reply["answer"]

    async def start(self) -> None:
        """Start the children (they import LiteLLM meanwhile, while the run sets itself up)."""
        if len(self._children) == self.count:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            while len(self._children) < self.count:
                child = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "codeclm_dspy.engine.senders",
                    env=_child_env(),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=None if os.environ.get("CODECLM_SENDER_LOG") else asyncio.subprocess.DEVNULL,
                    limit=LINE_LIMIT,
                )
                self._waiting.append({})
                self._children.append(child)
                self._readers.append(
                    asyncio.get_running_loop().create_task(self._read(len(self._children) - 1))
                )

    async def _read(self, k: int) -> None:
        """Hand each answer of child ``k`` to its waiting request; on its exit, fail the rest."""
        child, waiting = self._children[k], self._waiting[k]
        while line := await child.stdout.readline():
            try:
                reply = json.loads(line)
            except ValueError:  # not an answer: something in the child printed to our pipe
                logger.debug("a sender printed %r", line[:200])
                continue
            future = waiting.get(reply["id"])
            if future is not None and not future.done():
                future.set_result(reply)
        code = await child.wait()
        if self._closing:
            return
        self._died = SenderDied(
            f"a sender process (engine.senders) exited with code {code} while the run needed it; "
            "everything so far is saved: run the same command again to resume"
        )
        for future in list(waiting.values()):
            if not future.done():
                future.set_exception(self._died)

    async def close(self) -> None:
        """Close the children's stdin (they finish and exit) and wait for them."""
        self._closing = True
        for child in self._children:
            if child.stdin is not None and not child.stdin.is_closing():
                child.stdin.close()
        for child in self._children:
            try:
                await asyncio.wait_for(child.wait(), timeout=5)
            except TimeoutError:
                child.kill()


def _child_env() -> dict[str, str]:
    """This environment, with the directory this package was imported from first on the path.

    A child must import the same codeclm_dspy as the run, even when the run
    found it through its own ``sys.path`` (a checkout, a test) rather than
    an installed package.
    """
    root = str(Path(__file__).resolve().parents[2])  # the directory holding codeclm_dspy/
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


def describe(exc: BaseException) -> dict[str, Any]:
    """What the run's process needs of an error to rebuild it (never a key: see ``scrub``)."""
    from codeclm_dspy.engine.retries import connection_failure
    from codeclm_dspy.secrets import scrub

    headers = getattr(exc, "litellm_response_headers", None) or getattr(
        getattr(exc, "response", None), "headers", None
    )
    kept = {}
    if headers is not None and hasattr(headers, "get"):
        kept = {h: headers.get(h) for h in ("retry-after", "retry-after-ms") if headers.get(h) is not None}
    litellm_error = type(exc).__module__.startswith("litellm")
    return {
        "type": type(exc).__name__ if litellm_error else None,
        "message": scrub(
            str(getattr(exc, "message", None) or exc) if litellm_error else f"{type(exc).__name__}: {exc}"
        ),
        "model": getattr(exc, "model", None),
        "provider": getattr(exc, "llm_provider", None),
        "status": getattr(exc, "status_code", None),
        "headers": kept,
        "connection": connection_failure(exc),
    }


def rebuild(error: dict[str, Any]) -> Exception:
    """The LiteLLM exception ``describe`` described (a ``SenderError`` for anything else)."""
    import litellm

    cls = getattr(litellm, error["type"] or "", None)
    exc: Exception | None = None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            exc = cls(message=error["message"], model=error["model"], llm_provider=error["provider"])
            exc.message, exc.args = error["message"], (error["message"],)  # not prefixed twice
        except TypeError:
            exc = None
    if exc is None:
        exc = SenderError(error["message"])
    if error["status"] is not None:
        exc.status_code = error["status"]
    exc.litellm_response_headers = error["headers"]
    exc.connection_failure = error["connection"]  # retries.connection_failure reads it
    return exc


class SenderError(Exception):
    """An error in a sender process that was not LiteLLM's: it fails only its item."""


# ---- the child's side -------------------------------------------------------


async def _serve() -> None:
    from codeclm_dspy.engine.send import plain, send_once
    from codeclm_dspy.engine.usage import spare_litellm_pricing

    # LiteLLM prints some notices to stdout: the answers get a descriptor of their own
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, answers)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    spared: set[str] = set()
    tasks: set[asyncio.Task] = set()

    async def answer(ident: int, request: dict) -> None:
        if request.get("api_base") and request["model"] not in spared:
            spare_litellm_pricing(request["model"])  # as routing.py does for a role with its own server
            spared.add(request["model"])
        try:
            reply = {"id": ident, "answer": plain(await send_once(**request))}
        except Exception as exc:
            reply = {"id": ident, "error": describe(exc)}
        writer.write(json.dumps(reply).encode() + b"\n")

    while line := await reader.readline():
        message = json.loads(line)
        task = loop.create_task(answer(message["id"], message["request"]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:  # stdin closed: the run is done or gone; let what was sent finish
        await asyncio.wait(tasks, timeout=5)


if __name__ == "__main__":
    logging.basicConfig(level=os.environ.get("CODECLM_SENDER_LOG", "WARNING"))
    asyncio.run(_serve())
