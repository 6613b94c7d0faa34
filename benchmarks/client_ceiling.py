"""Client ceiling: how many calls per second each client alone makes against the stub server.

    .venv/bin/python -m benchmarks.client_ceiling [--calls 3000] [--concurrency 32] [--delay-ms 0]

Why: the full pipeline's calls/s (``benchmarks/engine.py``, ``benchmarks/peers.py``) cannot
exceed what the client under it manages with nothing else to do. This sends the same single-turn
request ``--calls`` times at ``--concurrency`` on one event loop, with no pipeline, no parsing and
no journal, through:

- a plain ``aiohttp`` session (the floor: HTTP and JSON only);
- ``litellm.acompletion`` with ``openai/`` (the OpenAI SDK) and ``aiohttp_openai/`` (LiteLLM's
  lighter client), each with and without the zero cost-map entry that ``engine/usage.py`` gives
  a self-hosted model LiteLLM cannot price.

Each client runs in its own subprocess against a fresh stub server (0 ms unless ``--delay-ms``),
after 200 warm-up calls, and reports its calls per second and the CPU time its process spent per
call (``time.process_time``, every thread). With a delay it also reports the share of the ideal
``calls x delay / concurrency`` that it reached, as ``benchmarks/engine.py`` scores the pipeline:
``--delay-ms 200 --concurrency 128`` is the engine benchmark's hardest scenario with the pipeline
taken away. On a machine with C cores, a client that spends m ms of CPU per call cannot pass
1000 x C / m calls per second, whatever else runs beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = ("aiohttp", "openai", "openai+entry", "aiohttp_openai", "aiohttp_openai+entry")


async def _run(url: str, client: str, calls: int, concurrency: int) -> dict[str, float]:
    """Calls per second of ``client`` for ``calls`` requests after a warm-up, and its CPU per call."""
    slots = asyncio.Semaphore(concurrency)
    body = {"model": "ceiling", "messages": [{"role": "user", "content": ""}]}
    if client == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession()

        async def one(i: int) -> str:
            request = {**body, "messages": [{"role": "user", "content": f"request {i}"}]}
            async with slots, session.post(f"{url}/chat/completions", json=request) as answer:
                return (await answer.json())["choices"][0]["message"]["content"]

    else:
        import litellm

        provider, _, entry = client.partition("+")
        model = f"{provider}/ceiling"
        if entry:
            from codeclm_dspy.engine.usage import spare_litellm_pricing

            spare_litellm_pricing(model)

        async def one(i: int) -> str:
            async with slots:
                answer = await litellm.acompletion(
                    model=model,
                    api_base=url,
                    api_key="ceiling",
                    messages=[{"role": "user", "content": f"request {i}"}],
                )
                return answer.choices[0].message.content

    await asyncio.gather(*(one(i) for i in range(200)))
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(200, 200 + calls)))
    rate = calls / (time.perf_counter() - started)
    cpu_ms = 1000 * (time.process_time() - cpu) / calls
    if client == "aiohttp":
        await session.close()
    return {"calls_per_s": rate, "cpu_ms_per_call": cpu_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="the stub server's answer delay")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        url, client = json.loads(args.one)
        print(json.dumps(asyncio.run(_run(url, client, args.calls, args.concurrency))))
        return
    from benchmarks.stub_server import StubServer

    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    print(
        f"{args.calls} calls at concurrency {args.concurrency}, {args.delay_ms:g} ms stub server, "
        f"{os.cpu_count()} CPUs"
    )
    for client in CLIENTS:
        with StubServer(delay_ms=args.delay_ms) as server:
            command = [sys.executable, "-m", "benchmarks.client_ceiling", "--calls", str(args.calls)]
            command += ["--concurrency", str(args.concurrency), "--one", json.dumps([server.url, client])]
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{client:>22}: failed: {done.stderr.strip().splitlines()[-1:]}")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        line = f"{client:>22}: {row['calls_per_s']:8.1f} calls/s, {row['cpu_ms_per_call']:5.2f} ms CPU a call"
        if args.delay_ms:
            ideal = row["calls_per_s"] * args.delay_ms / 1000 / args.concurrency
            line += f", {ideal:6.1%} of ideal"
        print(line, flush=True)


if __name__ == "__main__":
    main()
