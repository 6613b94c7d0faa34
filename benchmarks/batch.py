"""Online vs batch: the same CodecLM run both ways against the stub server, and what each would cost.

    .venv/bin/python -m benchmarks.batch [--instructions 48] [--out benchmarks/results/batch.json]

Both runs go through ``codeclm generate`` (a subprocess each, request cache
off) against one ``stub_server.py``, whose batch API answers each line as its
chat endpoint answers the same body. The report gives, for each run: paid
calls (the journal's), the server's own counts (chat requests, batch lines,
batches created), rounds, wall time, whether the datasets are identical, and
USD at the list prices of one hosted model, ``openai/gpt-4o-mini``, computed
from the runs' own token counts with LiteLLM's cost map (online: its online
prices; batch: its batch prices). The stub answers a batch at once, so the
batch run's wall time here is our own overhead (the replays of each round); with
a real provider each round adds that provider's turnaround (minutes to 24 h).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.stub_server import StubServer

ROOT = Path(__file__).resolve().parents[1]
PRICED_AS = "openai/gpt-4o-mini"
SEEDS = [
    "My order arrived with a cracked screen; how do I get a replacement?",
    "Write a Python function that merges two sorted lists.",
    "Explain the difference between a lease and a licence in plain words.",
    "Plan a three-day trip to Lisbon on a small budget.",
    "Summarise the causes of the 2008 financial crisis for a teenager.",
    "Draft a polite email asking a landlord to fix a leaking tap.",
]


def config(url: str, instructions: int, batch: bool) -> dict:
    role = {
        "api_base": url,
        "api_key_env": "STUB_API_KEY",
        "structured_output": "json_schema",
        "batch": batch,
    }
    return {
        "models": {r: {"model": f"openai/stub-{r}", **role} for r in ("strong", "target", "judge")},
        "pipeline": {
            "metadata_pool_size": 12,
            "num_instructions": instructions,
            "max_iterations": 3,
            "threshold": 3.0,
        },
        "engine": {"workers": 16, "cache": False, "batch": {"poll_s": 0.05}},
        "random_seed": 7,
    }


def run(stub: StubServer, tmp: Path, name: str, instructions: int, batch: bool) -> dict:
    (tmp / f"{name}.yaml").write_text(yaml.safe_dump(config(stub.url, instructions, batch)))
    (tmp / "seeds.jsonl").write_text("".join(json.dumps({"instruction": s}) + "\n" for s in SEEDS))
    out = tmp / name
    argv = [sys.executable, "-m", "codeclm_dspy", "generate", "--config", str(tmp / f"{name}.yaml")]
    argv += ["--seeds", str(tmp / "seeds.jsonl"), "--out", str(out), "--quiet"]
    environ = {**os.environ, "STUB_API_KEY": "bench", "CODECLM_CACHE_DIR": str(tmp / "cache")}
    environ["PYTHONPATH"] = str(ROOT)
    stub.reset()
    started = time.monotonic()
    done = subprocess.run(argv, env=environ, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{name} run failed: {done.stderr[-2000:]}")
    stats = stub.stats()
    manifest = json.loads((out / "manifest.json").read_text())
    with sqlite3.connect(out / "state.sqlite") as conn:
        tokens = conn.execute(
            "SELECT prompt_tokens, completion_tokens FROM calls WHERE source = 'provider'"
        ).fetchall()
    return {
        "out": out,
        "calls": manifest["usage"]["calls"],
        "kept": manifest["kept"],
        "server_chat_requests": stats["requests"],
        "server_batch_lines": stats["batch"].get("lines_answered", 0),
        "server_batches_created": stats["batch"].get("created", 0),
        "rounds": (manifest.get("batch") or {}).get("rounds", 0),
        "wall_time_s": round(wall, 1),
        "prompt_tokens": sum(p for p, _ in tokens),
        "completion_tokens": sum(c for _, c in tokens),
        "usd": round(priced(tokens, batch), 6),
    }


def priced(tokens: list[tuple[int, int]], batch: bool) -> float:
    """USD of these calls at ``PRICED_AS``'s list prices (LiteLLM's cost map), online or batch."""
    from codeclm_dspy.engine.batches import batch_usd
    from codeclm_dspy.engine.usage import usd_of

    price = batch_usd if batch else usd_of
    return sum(price(PRICED_AS, p, c) for p, c in tokens)


def same(a: Path, b: Path) -> bool:
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in ("kept.jsonl", "rejected.jsonl"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instructions", type=int, default=48)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "batch.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with tempfile.TemporaryDirectory() as tmp, StubServer() as stub:
        online = run(stub, Path(tmp), "online", args.instructions, batch=False)
        batch = run(stub, Path(tmp), "batch", args.instructions, batch=True)
        identical = same(online.pop("out"), batch.pop("out"))
    result = {
        "instructions": args.instructions,
        "priced_as": PRICED_AS,
        "identical_datasets": identical,
        "online": online,
        "batch": batch,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'':<8}{'calls':>7}{'rounds':>8}{'wall s':>9}{'USD':>11}  ({PRICED_AS} list prices)")
    for name, row in (("online", online), ("batch", batch)):
        print(f"{name:<8}{row['calls']:>7}{row['rounds']:>8}{row['wall_time_s']:>9}{row['usd']:>11.6f}")
    print(f"identical datasets: {identical}; written to {args.out}")


if __name__ == "__main__":
    main()
