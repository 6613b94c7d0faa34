"""Peers benchmark: codeclm-dspy's run engine next to Bespoke curator and NeMo Data Designer.

    .venv/bin/python -m benchmarks.peers [--quick] [--tools codeclm,curator,datadesigner]
                                         [--out benchmarks/results/peers.json]

Why: ``benchmarks/engine.py`` measures our engine alone, and a number alone does not say whether
it is fast. This script runs the same two scenarios with each tool, in one run, on one machine,
against one stub server per scenario (``benchmarks/stub_server.py``), which counts every request
it receives: that count, not a tool's own, is the one reported. Caches are off in every tool.

1. 0 ms latency, concurrency 32: server-counted calls / wall time (calls/s), the tool's own cost
   per call once the server costs nothing;
2. 200 ms latency, concurrency 128: (calls x 0.2 s / 128) / wall time, the share of the ideal
   throughput the tool reaches when it has to keep 128 requests in flight.

codeclm runs the full CodecLM pipeline exactly as ``benchmarks/engine.py``'s ``scenario()``
(T = 4) with this checkout's venv. Each peer runs ``n`` single-turn chat completions through its
own API (``benchmarks/peers/*_job.py``) in its own venv under ``.peers-venvs/``, with a pinned
version installed from PyPI once and reused. A tool that fails to install or run gets one line
in the table and the others still report. Not run in CI: it needs PyPI and a quiet machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from benchmarks.readme_block import commit, stamp, write_block
from benchmarks.stub_server import StubServer

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "benchmarks" / "peers"
PEERS = {"curator": "bespokelabs-curator==0.1.31", "datadesigner": "data-designer==0.9.7"}
# codeclm three times: models as openai/ (the OpenAI SDK, LiteLLM's default for these
# servers) and as aiohttp_openai/ (LiteLLM's lighter client for OpenAI-compatible servers),
# both sending from the run's process; then aiohttp_openai/ with engine.senders: 2
# (engine/senders.py: LiteLLM's per-call work in two child processes)
CODECLM = {
    "codeclm": ("openai", 0),
    "codeclm-aiohttp": ("aiohttp_openai", 0),
    "codeclm-senders": ("aiohttp_openai", 2),
}
TOOLS = (*CODECLM, *PEERS)
TIMEOUT_S = 3600


@dataclass(frozen=True)
class Scenario:
    """One server latency and concurrency, and how much work each tool gets at it."""

    key: str
    delay_ms: int
    concurrency: int
    completions: int  # a peer's job: this many single-turn chat completions
    instructions: int  # codeclm's job: a CodecLM run to this many basic instructions (T = 4)

    def score(self, calls: int, wall_s: float) -> float:
        """Calls/s at 0 ms; the share of calls x latency / concurrency otherwise."""
        if self.delay_ms == 0:
            return round(calls / wall_s, 1)
        return round(calls * self.delay_ms / 1000 / self.concurrency / wall_s, 3)


def scenarios(quick: bool) -> list[Scenario]:
    """The two scenarios; full sizes give every tool some 15,000-20,000 calls in each."""
    if quick:
        return [Scenario("latency_0ms", 0, 32, 2000, 200), Scenario("latency_200ms", 200, 128, 1280, 256)]
    return [Scenario("latency_0ms", 0, 32, 20000, 2000), Scenario("latency_200ms", 200, 128, 15360, 1536)]


class Unavailable(RuntimeError):
    """A tool could not be installed or run; the message is the table's one line for it."""


def last_line(log: Path) -> str:
    """The last non-blank line of a log, where a failing command says why."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[:200]


def run_logged(argv: list[str], log: Path, env: dict | None = None) -> str:
    """Run a command with stdout and stderr kept in ``log``; return stdout or raise ``Unavailable``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("w") as err:
            done = subprocess.run(
                argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True, timeout=TIMEOUT_S
            )
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"timed out after {TIMEOUT_S} s (log: {log})") from exc
    with log.open("a") as out:
        out.write(done.stdout)
    if done.returncode != 0:
        raise Unavailable(f"exit {done.returncode}: {last_line(log)} (log: {log})")
    return done.stdout


def peer_python(tool: str, venvs: Path) -> Path:
    """Return the python of the tool's venv, creating it and installing the pinned version once."""
    home, spec = venvs / tool, PEERS[tool]
    python, marker = home / "bin" / "python", home / "installed.txt"
    if python.exists() and marker.exists() and marker.read_text().strip() == spec:
        return python
    print(f"installing {spec} into {home} (once; later runs reuse it)", flush=True)
    log = venvs / "logs" / f"{tool}-install.log"
    try:
        run_logged([sys.executable, "-m", "venv", "--clear", str(home)], log)
        run_logged([str(python), "-m", "pip", "install", "--quiet", spec], log)
    except Unavailable as exc:
        raise Unavailable(f"install of {spec} failed: {exc}") from exc
    marker.write_text(spec + "\n")
    return python


def peer_env() -> dict:
    """The environment of a peer job: its own venv's imports only, and tiktoken kept offline.

    tiktoken downloads its encodings on first use, which a machine without internet cannot;
    the peers then use the copy LiteLLM ships, as codeclm's LiteLLM does.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    spec = importlib.util.find_spec("litellm")
    bundled = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers" if spec and spec.origin else None
    if bundled and bundled.is_dir():
        env.setdefault("TIKTOKEN_CACHE_DIR", str(bundled))
    return env


def run_peer(tool: str, python: Path, scenario: Scenario, server: StubServer, logs: Path) -> dict:
    """Run a peer's job in its venv; its calls are the server's count inside the timed window."""
    with tempfile.TemporaryDirectory() as work:
        result = Path(work) / "result.json"
        args = {"url": server.url, "concurrency": scenario.concurrency, "n": scenario.completions}
        args |= {"workdir": str(Path(work) / "job"), "result": str(result)}
        before = server.stats()["requests"]
        run_logged(
            [str(python), str(JOBS / f"{tool}_job.py"), json.dumps(args)],
            logs / f"{tool}-{scenario.key}.log",
            peer_env(),
        )
        row = json.loads(result.read_text())
    row["calls_outside_window"] = server.stats()["requests"] - before - row["calls"]
    return row


def run_codeclm(tool: str, scenario: Scenario, server: StubServer, logs: Path) -> dict:
    """Run ``benchmarks.engine --one``; it makes no call outside its timed ``generate``."""
    provider, senders = CODECLM[tool]
    one = json.dumps([server.url, scenario.concurrency, scenario.instructions, 4, provider, senders])
    before = server.stats()["requests"]
    stdout = run_logged(
        [sys.executable, "-m", "benchmarks.engine", "--one", one], logs / f"{tool}-{scenario.key}.log"
    )
    engine = json.loads(stdout.strip().splitlines()[-1])
    calls = server.stats()["requests"] - before
    return {
        "wall_s": engine["wall_s"],
        "calls": calls,
        "rows": engine["kept"],
        "version": codeclm_version(),
        "engine": engine,
    }


def codeclm_version() -> str:
    """This checkout's version and commit, with ``+changes`` when tracked files have uncommitted changes."""
    return f"codeclm-dspy {version('codeclm-dspy')} ({commit()})"


def measure(tools: list[str], plan: list[Scenario], venvs: Path) -> dict:
    """Install what is missing, then run every tool in every scenario; failures become messages."""
    results: dict = {tool: {"version": None, "error": None, "scenarios": {}} for tool in tools}
    pythons: dict[str, Path] = {}
    for tool in (t for t in tools if t in PEERS):
        try:
            pythons[tool] = peer_python(tool, venvs)
        except Unavailable as exc:
            results[tool]["error"] = str(exc)
    for scenario in plan:
        with StubServer(delay_ms=scenario.delay_ms) as server:
            for tool in (t for t in tools if not results[t]["error"]):
                try:
                    if tool in CODECLM:
                        row = run_codeclm(tool, scenario, server, venvs / "logs")
                    else:
                        row = run_peer(tool, pythons[tool], scenario, server, venvs / "logs")
                except Unavailable as exc:
                    row = {"error": f"run failed: {exc}"}
                    print(f"{tool:<13} {scenario.key}: {row['error']}", flush=True)
                else:
                    results[tool]["version"] = row.pop("version")
                    row["score"] = scenario.score(row["calls"], row["wall_s"])
                    print(f"{tool:<13} {scenario.key}: {row['calls']} calls in {row['wall_s']} s", flush=True)
                results[tool]["scenarios"][scenario.key] = row
    return results


def cell(scenario: Scenario, row: dict) -> str:
    """A score as the table shows it: calls/s at 0 ms, a percentage otherwise."""
    if "score" not in row:
        return "failed"
    return f"{row['score']:.1f}" if scenario.delay_ms == 0 else f"{row['score']:.1%}"


NAMES = {
    "codeclm": "codeclm-dspy, models `openai/…` (full CodecLM pipeline, T = 4)",
    "codeclm-aiohttp": "codeclm-dspy, models `aiohttp_openai/…` (the same)",
    "codeclm-senders": "codeclm-dspy, `aiohttp_openai/…`, `engine.senders: 2` (the same)",
    "curator": "Bespoke curator (single completions)",
    "datadesigner": "NeMo Data Designer (single completions)",
}


def table(results: dict, plan: list[Scenario]) -> tuple[list[str], list[str]]:
    """The markdown table (printed, and written into the README with ``--readme``) and its notes.

    Returns:
        The table's lines: one per tool, its two scores, the server's call
        counts and its version; then one note per scenario a tool failed.
    """
    lines = [
        "| tool | 0 ms latency, concurrency 32 | 200 ms latency, concurrency 128: share of ideal "
        "| calls (0 ms / 200 ms) |",
        "|---|---:|---:|---:|",
    ]
    notes = []
    for tool, result in results.items():
        name = NAMES[tool] + (f", {result['version']}" if tool in PEERS and result["version"] else "")
        if result["error"]:
            lines.append(f"| {name} | failed | failed | |")
            notes.append(f"{tool}: {result['error']}")
            continue
        rows = [result["scenarios"][s.key] for s in plan]
        notes += [f"{tool}, {s.key}: {r['error']}" for s, r in zip(plan, rows, strict=True) if "error" in r]
        zero, slow = (cell(s, r) for s, r in zip(plan, rows, strict=True))
        calls = " / ".join(f"{r['calls']:,}" if "calls" in r else "-" for r in rows)
        lines.append(f"| {name} | {zero} calls/s | {slow} | {calls} |")
    return lines, notes


def main() -> None:
    """Parse the command line, measure, print the table and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small jobs: a smoke test of this script")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, from {', '.join(TOOLS)}")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "peers.json"))
    parser.add_argument("--venvs", default=str(ROOT / ".peers-venvs"), help="where the peers' venvs are kept")
    parser.add_argument(
        "--readme", action="store_true", help="write the table into README.md (full runs only)"
    )
    args = parser.parse_args()
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown or not tools:
        parser.error(f"unknown --tools {unknown}; choose from {', '.join(TOOLS)}")
    if args.readme and args.quick:
        parser.error("--readme keeps full runs only; drop --quick")
    plan = scenarios(args.quick)
    load = os.getloadavg()[0]
    busy = " (busy: numbers will be low)" if load > 0.5 else ""
    print(f"{os.cpu_count()} CPUs, load average {load:.2f}{busy}", flush=True)
    where = stamp("python -m benchmarks.peers --readme", load)  # before this script writes anything
    results = measure(tools, plan, Path(args.venvs))
    lines, notes = table(results, plan)
    print("\n".join(["", *lines, *notes]))
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average": round(load, 2)}
    out = {"machine": machine, "quick": args.quick, "scenarios": [asdict(s) for s in plan], "tools": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    if args.readme:
        write_block("peers", [*lines, "", where])
    if any(r["error"] or any("error" in row for row in r["scenarios"].values()) for r in results.values()):
        raise SystemExit("some tools did not report: see the lines above")


if __name__ == "__main__":
    main()
