"""Bespoke Labs curator's side of the peers benchmark: ``n`` single-turn completions via ``curator.LLM``.

Run by ``benchmarks/peers.py`` with curator's own venv. The job is the one a curator user writes:
an ``LLM`` subclass with a prompt and a parse function, on curator's OpenAI-compatible backend
pointed at the stub server, with ``max_concurrent_requests`` set to the scenario's concurrency
and the request and token rates set far above anything the run reaches, so that the concurrency
is the only limit, as in the other tools. Curator's response cache is off
(``CURATOR_DISABLE_CACHE`` gives every run a fresh fingerprint), and so is its telemetry.
Everything else (progress display, request and response files) stays as a user gets it.
"""

from __future__ import annotations

import os

os.environ["CURATOR_DISABLE_CACHE"] = "1"
os.environ["TELEMETRY_ENABLED"] = "false"

# Imported after the environment above: the tool reads it at import time.
import jobkit
from bespokelabs import curator


class Sentences(curator.LLM):
    """One chat completion per row: the row's request in, the answer out."""

    def prompt(self, row: dict) -> str:
        return row["request"]

    def parse(self, row: dict, response: str) -> dict:
        return {"request": row["request"], "answer": response}


def main() -> None:
    """Run the job the orchestrator describes and write its result file."""
    args = jobkit.arguments()
    os.environ["CURATOR_CACHE_DIR"] = args["workdir"]  # curator's run metadata, not a response cache
    rows = [{"request": text} for text in jobkit.prompts(args["n"])]
    backend = {
        "base_url": args["url"],
        "api_key": "bench",
        "max_concurrent_requests": args["concurrency"],
        "max_requests_per_minute": 100_000_000,
        "max_tokens_per_minute": 100_000_000_000,
        "max_retries": 0,
    }

    def job() -> object:
        llm = Sentences(model_name="bench-peer", backend="openai", backend_params=backend)
        return llm(rows, working_dir=args["workdir"])

    jobkit.measure(args, job, lambda response: len(response.dataset), "bespokelabs-curator")


if __name__ == "__main__":
    main()
