"""The ``codeclm`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="CodecLM: tailored synthetic instruction data, as a DSPy program routed through LiteLLM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from codeclm_dspy import __version__

        typer.echo(f"codeclm-dspy {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """CodecLM: encode seeds into metadata, decode, Self-Rubrics, Contrastive Filtering."""


@app.command()
def generate(
    config: Annotated[Path, typer.Option(help="YAML run config (models, pipeline, engine).")],
    seeds: Annotated[Path, typer.Option(help="Seed instructions: JSONL, CSV or a saved HF dataset.")],
    out: Annotated[
        Path, typer.Option(help="New directory for kept.jsonl, rejected.jsonl, dataset/, manifest.json.")
    ],
    random_seed: Annotated[
        int | None, typer.Option(help="Random seed (overrides the config's random_seed).")
    ] = None,
    instruction_field: Annotated[str | None, typer.Option(help="Seed field holding the instruction.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Parallel items (overrides engine.workers).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress display (for logs and CI).")
    ] = False,
) -> None:
    """Generate instruction-response pairs tailored to the seeds and the target model."""
    from codeclm_dspy.config import load_config
    from codeclm_dspy.errors import CodecLMError
    from codeclm_dspy.generate import generate as run
    from codeclm_dspy.progress import NullProgress, RichProgress

    try:
        cfg = load_config(config, random_seed=random_seed)
        if instruction_field:
            cfg.seeds.instruction_field = instruction_field
        if workers:
            cfg.engine.workers = workers
        progress = NullProgress() if quiet else RichProgress()
        run(cfg, seeds, out, progress=progress)
    except CodecLMError as exc:
        typer.echo(f"codeclm: error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("codeclm: interrupted; the run directory says so in manifest.json", err=True)
        raise typer.Exit(130) from None
    _summary(out)


def _summary(out: Path) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    usage, counts = manifest["usage"], manifest["counts"]["instructions"]
    usd = "unknown" if usage["usd"] is None else f"${usage['usd']:.4f}"
    failures = sum(r["parse_failures"] for r in manifest["parse_failures"].values())
    attempts = sum(r["attempts"] for r in manifest["parse_failures"].values()) or 1
    typer.echo(
        f"kept {manifest['kept']} of {counts['generated']} instructions "
        f"({counts['kept_strong']} strong, {counts['kept_target']} target); "
        f"dropped {counts['dropped']}, failed {counts['failed']}, duplicates {counts['duplicates']}\n"
        f"{usage['calls']} LM calls, {usage['tokens']} tokens, {usd}; "
        f"parse failures {failures}/{attempts}; {manifest['wall_time_s']:.1f}s\n"
        f"wrote {out}/kept.jsonl, rejected.jsonl, dataset/, manifest.json"
    )


def run() -> None:
    """Entry point for the ``codeclm`` script."""
    sys.exit(app())
