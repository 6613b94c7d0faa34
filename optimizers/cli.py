"""``codeclm compile``: the command line of the optimizers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer


def compile_command(
    config: Annotated[
        Path, typer.Option(help="YAML config with a `compile:` section (steps and optimizers).")
    ],
    seeds: Annotated[
        Path, typer.Option(help="Seeds (JSONL, CSV or saved dataset); split into train and dev.")
    ],
    out: Annotated[
        Path, typer.Option(help="Program directory: a new one, or an unfinished compile's to resume it.")
    ],
    random_seed: Annotated[int | None, typer.Option(help="Random seed (split, optimizers).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Compile CodecLM's step prompts on the seeds; score each step on held-out seeds before and after."""
    from codeclm_dspy.cli import cli_errors
    from codeclm_dspy.config import load_config
    from codeclm_dspy.progress import NullProgress, RichProgress
    from optimizers.compile import compile_program

    with cli_errors():
        cfg = load_config(config, random_seed=random_seed)
        _quiet_dspy()
        manifest = compile_program(cfg, seeds, out, progress=NullProgress() if quiet else RichProgress())
    typer.echo(summary(manifest, out))


def _quiet_dspy() -> None:
    """DSPy's optimizers log every trial; the progress bars and the manifest say what matters."""
    import logging

    for name in ("dspy", "optuna", "gepa"):
        logging.getLogger(name).setLevel(logging.WARNING)


def summary(manifest: dict[str, Any], out: Path) -> str:
    """The before/after table, as printed at the end of a compile."""
    lines = [f"{'step':<8} {'optimizer':<33} {'dev n':>5} {'before':>7} {'after':>7} {'change':>7}  kept"]
    for step, s in manifest["steps"].items():
        lines.append(
            f"{step:<8} {s['optimizer']:<33} {s['before']['n']:>5} {s['before']['mean']:>7.3f} "
            f"{s['after']['mean']:>7.3f} {s['delta']:>+7.3f}  {s['kept']}"
        )
        parts = ", ".join(
            f"{name} {s['before']['parts'][name]:.2f} -> {s['after']['parts'].get(name, 0):.2f}"
            for name in s["before"]["parts"]
        )
        if parts:
            lines.append(f"         {parts}")
        if s["delta"] <= 0:
            lines.append(f"         compiling did not raise {step}'s held-out score")
    usage = manifest["usage"]
    session = manifest["this_session"]
    lines.append(
        f"calls: {usage['calls']} to providers, {usage['cache_hits']} from the request cache; "
        f"this session {session['provider_calls']} calls, {session['replayed']} replayed; "
        f"{manifest['wall_time_s']:.0f}s"
    )
    lines.append(
        f"wrote {out}/program.json, manifest.json; run it with: codeclm generate --program {out} ..."
    )
    return "\n".join(lines)
