"""A small, deterministic, OpenAI-compatible chat-completions server for benchmarks and engine tests.

Answers are a pure function of the request body and ``--seed``; schema'd requests get a JSON object
synthesised from the requested JSON schema. Faults (429, 500, hang, malformed, empty) can be injected
at a fixed rate, and ``GET /stats`` exposes the server's own request counters. ``/v1/files`` and
``/v1/batches`` answer batches of the same requests with the same answers (``stub_batches``). The answers
themselves are built in ``stub_answers``; this module serves them, injects the faults, and runs the
server as a subprocess for tests (``StubServer``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import select
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web

from benchmarks.stub_answers import answer, prompt_chars
from benchmarks.stub_batches import add_batch_routes

FAULTS = ("429", "500", "timeout", "malformed", "empty")


def make_app(
    delay_ms: float = 0,
    fault_rate: float = 0.0,
    seed: int = 0,
    hang_s: float = 30.0,
    require_key: str | None = None,
    leak_auth: bool = False,
    faults: tuple[str, ...] = FAULTS,
    batch: dict[str, Any] | None = None,
) -> web.Application:
    """Build the aiohttp application; the arguments mirror the CLI flags.

    Args:
        batch: options of the batch API (``stub_batches.add_batch_routes``:
            ``delay_s``, ``fail_rate``, ``fail_mode``, ``expire``).
    """
    faults_rng = random.Random(seed)
    stats: dict[str, Any] = {"requests": 0, "by_model": Counter(), "faults": Counter(), "unauthorized": 0}
    stats.update(
        in_flight=0, peak_in_flight=0
    )  # requests held (waiting out the delay) right now, and at most

    def error(status: int, message: str, kind: str, auth: str, headers: dict | None = None) -> web.Response:
        if leak_auth:
            message = f"{message} (received authorization: {auth})"
        payload = {"error": {"message": message, "type": kind, "code": status}}
        return web.json_response(payload, status=status, headers=headers)

    async def chat(request: web.Request) -> web.Response:
        stats["requests"] += 1
        auth = request.headers.get("Authorization", "")
        if require_key and auth != f"Bearer {require_key}":
            stats["unauthorized"] += 1
            return error(401, "invalid api key", "authentication_error", auth)
        try:
            body = await request.json()
            assert isinstance(body, dict)
        except Exception:
            return error(400, "request body must be a JSON object", "invalid_request_error", auth)
        model = str(body.get("model", "stub"))
        stats["by_model"][model] += 1
        fault = faults_rng.choice(faults) if fault_rate > 0 and faults_rng.random() < fault_rate else None
        if fault:
            stats["faults"][fault] += 1
        stats["in_flight"] += 1
        stats["peak_in_flight"] = max(stats["peak_in_flight"], stats["in_flight"])
        try:
            await asyncio.sleep(delay_ms / 1000)
        finally:
            stats["in_flight"] -= 1
        if fault == "429":
            return error(429, "rate limited", "rate_limit_error", auth, {"retry-after-ms": "100"})
        if fault == "500":
            return error(500, "internal server error", "server_error", auth)
        if fault == "timeout":
            await asyncio.sleep(hang_s)
        return web.json_response(reply(body, fault))

    def reply(body: dict, fault: str | None = None) -> dict:
        """The chat completion answering ``body``: a function of the body and the seed (and a fault)."""
        key = hashlib.sha256(f"{seed}|{json.dumps(body, sort_keys=True)}".encode()).hexdigest()
        content, schema = answer(body, key)
        if fault == "malformed":
            first = next(iter((schema or {}).get("properties", {})), None)
            content = f'{{"{first}": "trunc' if first else '{"'
        elif fault == "empty":
            content = ""
        usage = {
            "prompt_tokens": max(1, prompt_chars(body) // 4),
            "completion_tokens": max(1, len(content) // 4),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
        head = {"id": f"chatcmpl-{key[:24]}", "object": "chat.completion", "created": int(time.time())}
        return {**head, "model": str(body.get("model", "stub")), "choices": [choice], "usage": usage}

    async def get_stats(request: web.Request) -> web.Response:
        return web.json_response(stats)

    async def reset(request: web.Request) -> web.Response:
        stats.update(requests=0, by_model=Counter(), faults=Counter(), unauthorized=0, peak_in_flight=0)
        stats["batch"].clear()
        return web.json_response(stats)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/chat/completions", chat)
    app.router.add_get("/stats", get_stats)
    app.router.add_post("/reset", reset)
    add_batch_routes(app, stats, reply, seed=seed, **(batch or {}))
    return app


async def _serve(args: argparse.Namespace) -> None:
    """Start listening, print the ``ready`` line, then serve until cancelled."""
    app = make_app(
        args.delay_ms,
        args.fault_rate,
        args.seed,
        args.hang_s,
        args.require_key,
        args.leak_auth,
        tuple(args.faults.split(",")),
        {
            "delay_s": args.batch_delay_s,
            "fail_rate": args.batch_fail_rate,
            "fail_mode": args.batch_fail_mode,
            "expire": args.batch_expire,
        },
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port, backlog=4096).start()
    host, port = runner.addresses[0][:2]
    print(f"ready http://{host}:{port}/v1", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the server until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--faults", default=",".join(FAULTS), help="kinds of fault to inject, comma-separated"
    )
    parser.add_argument("--hang-s", type=float, default=30.0, help="how long a 'timeout' fault hangs")
    parser.add_argument("--require-key", default=os.environ.get("STUB_REQUIRE_KEY") or None)
    parser.add_argument("--leak-auth", action="store_true", help="echo the Authorization header in errors")
    parser.add_argument("--batch-delay-s", type=float, default=0.0, help="a batch's time to complete")
    parser.add_argument("--batch-fail-rate", type=float, default=0.0, help="share of batch lines that fail")
    parser.add_argument("--batch-fail-mode", choices=("once", "always"), default="once")
    parser.add_argument("--batch-expire", type=int, default=0, help="the first N batches expire")
    args = parser.parse_args(argv)
    unknown = set(args.faults.split(",")) - set(FAULTS)
    if unknown:
        parser.error(f"unknown --faults {sorted(unknown)}; choose from {', '.join(FAULTS)}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


class StubServer:
    """Run the stub server as a subprocess for the duration of a ``with`` block.

    Args:
        port: the port to listen on; 0 picks a free one (pass an earlier
            server's port to bring a "dead" provider back at the same URL).

    Attributes:
        url: The ``/v1`` base URL, set once the server is ready.
        port: The port it listens on, set once the server is ready.
    """

    def __init__(
        self,
        delay_ms: float = 0,
        fault_rate: float = 0.0,
        seed: int = 0,
        hang_s: float = 30.0,
        require_key: str | None = None,
        leak_auth: bool = False,
        port: int = 0,
        faults: tuple[str, ...] = FAULTS,
        batch_delay_s: float = 0.0,
        batch_fail_rate: float = 0.0,
        batch_fail_mode: str = "once",
        batch_expire: int = 0,
    ) -> None:
        self.argv = [sys.executable, "-m", "benchmarks.stub_server", "--port", str(port), "--seed", str(seed)]
        self.argv += f"--delay-ms {delay_ms} --fault-rate {fault_rate} --hang-s {hang_s}".split()
        self.argv += ["--leak-auth"] if leak_auth else []
        self.argv += ["--faults", ",".join(faults)]
        self.argv += f"--batch-delay-s {batch_delay_s} --batch-fail-rate {batch_fail_rate}".split()
        self.argv += f"--batch-fail-mode {batch_fail_mode} --batch-expire {batch_expire}".split()
        self.require_key = require_key
        self.url = ""
        self.port = port
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> StubServer:
        env = {k: v for k, v in os.environ.items() if k != "STUB_REQUIRE_KEY"}
        if self.require_key:
            env["STUB_REQUIRE_KEY"] = self.require_key  # via the environment, never argv
        self._stderr = tempfile.TemporaryFile()
        root = Path(__file__).resolve().parent.parent
        self.proc = subprocess.Popen(
            self.argv, cwd=root, env=env, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            if select.select([self.proc.stdout], [], [], 0.1)[0]:
                line = self.proc.stdout.readline()
                if line.startswith("ready "):
                    self.url = line.split()[1]
                    self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])
                    return self
        self._stderr.seek(0)
        stderr = self._stderr.read().decode(errors="replace")
        self.__exit__()
        raise RuntimeError(f"stub server did not start within 30 s: {stderr}")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()

    def kill(self) -> None:
        """SIGKILL the server, as a crashed provider dies: no goodbye to open connections."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _call(self, method: str, path: str) -> dict:
        request = urllib.request.Request(self.url.removesuffix("/v1") + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stats(self) -> dict:
        """The server's counters: ``requests``, ``by_model``, ``faults``, ``unauthorized``,
        ``in_flight`` (requests it holds now), ``peak_in_flight`` and ``batch`` (``stub_batches``)."""
        return self._call("GET", "/stats")

    def reset(self) -> None:
        """Zero the server's counters."""
        self._call("POST", "/reset")

    def batch_delay(self, seconds: float) -> None:
        """Make every batch not yet done take ``seconds`` from its creation (``stub_batches``)."""
        self._call("POST", f"/batch-delay?s={seconds}")


if __name__ == "__main__":
    main()
