"""Run-engine benchmark: throughput, orchestration overhead, memory, calls per kept pair.

    .venv/bin/python -m benchmarks.engine [--quick] [--out benchmarks/results/engine.json]

Every scenario runs the real pipeline (``codeclm_dspy.generate`` into a run
directory, with the journal, budgets and limiters on) against the stub
OpenAI-compatible server in ``stub_server.py``, which answers after a fixed
delay. Each scenario runs in a fresh subprocess so its peak RSS is its own.

- throughput: at 200 ms latency and concurrency 1, 8, 32, 128, the measured
  wall time against the ideal ``calls x latency / concurrency``;
- overhead: calls per second against a 0 ms server (pure orchestration);
- memory: peak RSS at 1,000 and 10,000 basic instructions;
- calls per kept pair against the method's minimum for the same funnel.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from benchmarks.fresh_process import run_one
from benchmarks.readme_block import stamp, write_block

ROOT = Path(__file__).resolve().parents[1]


def scenario(
    url: str,
    concurrency: int,
    instructions: int,
    iterations: int,
    provider: str = "openai",
    senders: int = 0,
) -> dict:
    """Run one pipeline in this process and report its numbers.

    Args:
        provider: the LiteLLM provider prefix of the three models: ``openai``
            (through the OpenAI SDK) or ``aiohttp_openai`` (LiteLLM's lighter
            client for OpenAI-compatible servers).
    """
    os.environ["STUB_API_KEY"] = "bench"
    import datasets  # noqa: F401  before the clock, as `import codeclm_dspy` did until bb63eb3

    import codeclm_dspy as cc

    n_seeds = max(8, min(concurrency, 64))
    seeds = [cc.Seed(f"s{i:04d}", f"Benchmark seed request number {i}") for i in range(n_seeds)]
    role = {
        "api_base": url,
        "api_key_env": "STUB_API_KEY",
        "structured_output": "json_schema",
        "concurrency": concurrency,
        "num_retries": 0,
    }
    config = cc.parse_config(
        {
            "models": {r: {"model": f"{provider}/bench-{r}", **role} for r in ("strong", "target", "judge")},
            "pipeline": {
                "metadata_pool_size": max(n_seeds, instructions // 10),
                "num_instructions": instructions,
                "max_iterations": iterations,
                "threshold": 3.0,
            },
            # All roles share the one server: max_in_flight caps the total, so
            # "ideal = calls x latency / concurrency" is a true upper bound.
            "engine": {
                "workers": concurrency,
                "max_in_flight": concurrency,
                "cache": False,
                "senders": senders,
            },
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        cc.generate(config, seeds, Path(tmp) / "run")
        wall = time.monotonic() - started
        manifest = json.loads((Path(tmp) / "run" / "manifest.json").read_text())
    counts, usage = manifest["counts"], manifest["usage"]
    return {
        "provider": provider,
        "concurrency": concurrency,
        "instructions": instructions,
        "max_iterations": iterations,
        "calls": usage["calls"],
        "kept": manifest["kept"],
        "wall_s": round(wall, 2),
        "calls_per_s": round(usage["calls"] / wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # the largest sender process's (engine.senders; each is its own process, with its own memory)
        "sender_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "minimum_calls": minimum_calls(counts, config.pipeline),
    }


def minimum_calls(counts: dict, pipeline) -> int:
    """The method's own call count for this funnel, with no retry or waste.

    One encode per seed, one plausibility check per mixed candidate, one
    decode and (if T > 1) one rubric call per metadata, and per judged
    iteration: strong + target + two judge orders, plus one improve call
    from iteration 2 on.
    """
    m = counts["metadata"]
    per_meta = m["pool"] * (1 + (1 if pipeline.max_iterations > 1 else 0))
    checks = m["mixed_candidates"] if pipeline.plausibility_check else 0
    rounds = sum(
        4 * it["judged"] + (it["judged"] if it["iteration"] > 1 else 0) for it in counts["iterations"]
    )
    return counts["seeds"]["encoded"] + checks + per_meta + rounds


def in_subprocess(
    url: str, concurrency: int, instructions: int, iterations: int, provider: str, senders: int = 0
) -> dict:
    args = json.dumps([url, concurrency, instructions, iterations, provider, senders])
    return run_one("benchmarks.engine", args, f"scenario {args}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test of this script)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "engine.json"))
    parser.add_argument(
        "--provider",
        default="openai",
        choices=("openai", "aiohttp_openai"),
        help="LiteLLM provider prefix of the models (aiohttp_openai: LiteLLM's lighter client)",
    )
    parser.add_argument(
        "--senders", type=int, default=0, help="engine.senders: child processes that make the calls"
    )
    parser.add_argument(
        "--readme", action="store_true", help="write the summary into README.md (full runs only)"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.readme and args.quick:
        parser.error("--readme keeps full runs only; drop --quick")
    if args.one:
        print(json.dumps(scenario(*json.loads(args.one))))
        return
    from benchmarks.stub_server import StubServer

    scale = 0.25 if args.quick else 1.0
    load = os.getloadavg()[0]
    command = (
        "python -m benchmarks.engine --readme"
        + (f" --provider {args.provider}" if args.provider != "openai" else "")
        + (f" --senders {args.senders}" if args.senders else "")
    )
    where = stamp(command, load)  # before this script writes anything
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "provider": args.provider,
        "senders": args.senders,
    }
    with StubServer(delay_ms=200) as slow:
        rows = []
        for c in (1, 8, 32, 128):
            instructions = max(4, int({1: 12, 8: 96, 32: 384, 128: 1536}[c] * scale))
            row = in_subprocess(slow.url, c, instructions, 4, args.provider, args.senders)
            row["ideal_s"] = round(row["calls"] * 0.2 / c, 2)
            row["efficiency"] = round(row["ideal_s"] / row["wall_s"], 3)
            rows.append(row)
            print(
                f"latency 200 ms, concurrency {c:>3}: {row['calls']} calls in {row['wall_s']} s, "
                f"ideal {row['ideal_s']} s -> {row['efficiency']:.0%} of ideal",
                flush=True,
            )
        results["throughput_200ms"] = rows
    with StubServer(delay_ms=0) as fast:
        row = in_subprocess(fast.url, 32, int(2000 * scale), 4, args.provider, args.senders)
        results["overhead_0ms"] = row
        print(f"latency 0 ms: {row['calls_per_s']} calls/s ({row['calls']} calls)", flush=True)
        memory = []
        for n in (1000, 10000):
            row = in_subprocess(fast.url, 32, int(n * scale), 1, args.provider, args.senders)
            memory.append(row)
            print(
                f"{row['instructions']} instructions: peak RSS {row['peak_rss_mb']} MB "
                f"({row['calls']} calls, {row['wall_s']} s)",
                flush=True,
            )
        results["memory"] = memory
    per_kept = [r for r in results["throughput_200ms"] if r["kept"]]
    results["calls_per_kept_pair"] = [
        {
            "concurrency": r["concurrency"],
            "actual": round(r["calls"] / r["kept"], 2),
            "method_minimum": round(r["minimum_calls"] / r["kept"], 2),
        }
        for r in per_kept
    ]
    for r in results["calls_per_kept_pair"]:
        print(
            f"calls per kept pair (concurrency {r['concurrency']}): {r['actual']} "
            f"(method minimum {r['method_minimum']})"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    if args.readme:
        write_block("engine", [*summary(results), "", where])


def summary(results: dict) -> list[str]:
    """The README's lines: 200 ms at every concurrency, 0 ms, and memory at 1,000 and 10,000."""
    senders = f", `engine.senders: {results['senders']}`" if results.get("senders") else ""
    lines = ["| scenario (models `" + results["provider"] + f"/…`{senders}) | result |", "|---|---:|"]
    for row in results["throughput_200ms"]:
        lines.append(
            f"| 200 ms latency, concurrency {row['concurrency']}, {row['calls']:,} calls "
            f"| {row['efficiency']:.1%} of ideal |"
        )
    fast = results["overhead_0ms"]
    lines.append(f"| 0 ms latency, concurrency 32, {fast['calls']:,} calls | {fast['calls_per_s']} calls/s |")
    small, large = results["memory"]
    lines.append(
        f"| peak RSS, {small['instructions']:,} -> {large['instructions']:,} kept pairs (0 ms, T = 1) "
        f"| {small['peak_rss_mb']} -> {large['peak_rss_mb']} MB "
        f"({large['peak_rss_mb'] - small['peak_rss_mb']:+.1f} MB) |"
    )
    return lines


if __name__ == "__main__":
    main()
