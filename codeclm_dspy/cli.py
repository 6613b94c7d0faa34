"""The ``codeclm`` command line."""

from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

from codeclm_dspy.cli_support import (
    ReportOption,
    check_cache,
    cli_errors,
    quiet_abandoned_calls,
    report_at_end,
    safe_logging,
    stop_once_on_signals,
)

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
    safe_logging()
    quiet_abandoned_calls()


@app.command()
def generate(
    config: Annotated[Path, typer.Option(help="YAML run config (models, pipeline, engine).")],
    out: Annotated[
        Path,
        typer.Option(
            help="Run directory: a new one, or an earlier run's to resume it (only unanswered calls are sent)."
        ),
    ],
    seeds: Annotated[
        Path | None, typer.Option(help="Seed instructions: JSONL, CSV or a saved HF dataset.")
    ] = None,
    metadata: Annotated[
        Path | None,
        typer.Option(
            help="Instead of seeds: your own metadata, JSONL/CSV records of use_case + skills "
            "(encoding is skipped; codeclm and wizardlm-plus)."
        ),
    ] = None,
    random_seed: Annotated[
        int | None, typer.Option(help="Random seed, 0 to 4294967295 (overrides the config's random_seed).")
    ] = None,
    instruction_field: Annotated[str | None, typer.Option(help="Seed field holding the instruction.")] = None,
    method: Annotated[
        str | None,
        typer.Option(
            help="Generator (overrides the config): codeclm, its Table 3 ablations self-rubrics "
            "(no Contrastive Filtering) and metadata-only, or the baselines self-instruct, evol-instruct and "
            "wizardlm-plus (Evol-Instruct on CodecLM's metadata-only instructions)."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Parallel items (overrides engine.workers).")
    ] = None,
    program: Annotated[
        Path | None, typer.Option(help="A program directory written by `codeclm compile` (compiled prompts).")
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress display (for logs and CI).")
    ] = False,
    report: ReportOption = True,
    push_to_hub: Annotated[
        str | None,
        typer.Option(
            metavar="REPO",
            help="When the run completes, push dataset/ and its card to this Hugging Face Hub dataset "
            "repository (NAME or NAMESPACE/NAME; the token from HF_TOKEN or `hf auth login`).",
        ),
    ] = None,
    batch: Annotated[
        bool | None,
        typer.Option(
            "--batch/--online",
            help="--batch: send the calls of every role whose provider has a batch API (and whose section "
            "does not say batch: false) through it, at about half price, in rounds; --online: no batches. "
            "A run may switch between sessions.",
        ),
    ] = None,
) -> None:
    """Generate instruction-response pairs tailored to the seeds and the target model."""
    from codeclm_dspy.config import load_config
    from codeclm_dspy.generate import generate as run
    from codeclm_dspy.out_paths import check_dir
    from codeclm_dspy.pipeline.methods import apply_preset
    from codeclm_dspy.progress import NullProgress, RichProgress

    with cli_errors():
        if push_to_hub is not None:
            from codeclm_dspy.runs.hub import check_repo_id

            check_repo_id(push_to_hub)  # before anything runs
        check_dir(out, "run")
        cfg = load_config(config, random_seed=random_seed)
        check_cache(cfg.engine)
        if instruction_field:
            cfg.seeds.instruction_field = instruction_field
        if workers:
            cfg.engine.workers = workers
        if batch is not None:
            cfg.engine.batch.enabled = batch
        if method:
            cfg = apply_preset(cfg, method)
        progress = NullProgress() if quiet else RichProgress()
        compiled, source = None, None
        if program is not None:
            from codeclm_dspy.runs.program_dir import compiled_summary, load_program

            compiled, made = load_program(program)
            source = {"compiled_from": str(program), "steps": compiled_summary(made)}
        run(cfg, seeds, out, program=compiled, progress=progress, program_source=source, metadata=metadata)
    _summary(out)
    report_at_end(out, report, pushing=push_to_hub is not None)
    if push_to_hub is not None:
        from codeclm_dspy.runs.hub import push_run

        with cli_errors():
            typer.echo(f"pushed {out}/dataset/ and its card to {push_run(out, push_to_hub)}")


@app.command("report")
def report_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="A directory codeclm wrote: a run, a CRR evaluation, a compiled program, a comparison or a sweep."
        ),
    ],
    out: Annotated[
        Path | None, typer.Option(help="The HTML file to write (default: PATH/report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML page to browse what a run, evaluation, compile or sweep did (works offline)."""
    from codeclm_dspy.report import write_report

    with cli_errors():
        written = write_report(path, out)
    typer.echo(f"wrote {written}")


@app.command()
def status(
    run_dir: Annotated[Path, typer.Argument(help="A run directory of `codeclm generate`.")],
) -> None:
    """Where a run stands: items, calls, batch rounds, batches in flight (their age and size)."""
    from codeclm_dspy.runs.status import run_status

    with cli_errors():
        typer.echo(run_status(run_dir))


def _summary(out: Path) -> None:
    """The cost funnel, printed at the end of a run (also in manifest.json)."""
    manifest = json.loads((out / "manifest.json").read_text())
    funnel, usage = manifest["cost_funnel"], manifest["usage"]
    counts = manifest["counts"]["instructions"]
    session = manifest["this_session"]

    def money(usd):
        return "unknown" if usd is None else f"${usd:.4f}"

    if funnel["metadata"] is None:  # a baseline: no metadata stage
        head = f"{manifest['method']}: seeds {funnel['seeds']} -> instructions {funnel['basic_instructions']}"
    else:
        head = (
            f"seeds {funnel['seeds']} -> metadata {funnel['metadata']} -> basic instructions "
            f"{funnel['basic_instructions']}"
        )
    extras = [f"{k} {counts[k]}" for k in ("duplicates",) if counts.get(k)]
    lines = [head + (f" ({', '.join(extras)})" if extras else "")]
    for it in funnel["iterations"]:
        if it["judged"] or it["failed"] or it.get("rejected"):
            lines.append(
                f"  iteration {it['iteration']}: judged {it['judged']}, kept strong {it['kept_strong']}, "
                f"kept target {it['kept_target']}, sent back {it['sent_back']}, dropped {it['dropped']}, "
                f"rejected {it.get('rejected', 0)}, failed {it['failed']}"
            )
    asked = funnel.get("asked")
    line = f"kept {funnel['kept']}" + (f" of {asked} asked" if asked is not None else "")
    lines.append(f"{line}, dropped {funnel['dropped']}, failed {funnel['failed']}")
    if funnel.get("shortfall"):
        lines.append(f"  SHORTFALL: {funnel['shortfall']} pairs missing ({funnel.get('shortfall_reason')})")
    reasons = funnel.get("not_kept_by_reason") or {}
    if reasons:
        lines.append("  not kept, by reason: " + ", ".join(f"{k} {v}" for k, v in reasons.items()))
    for stage, row in funnel["stages"].items():
        lines.append(f"  {stage:<26} {row['calls']:>7} calls {row['tokens']:>10,} tokens {money(row['usd'])}")
    per, alone = funnel["per_kept_pair"], funnel.get("per_kept_pair_standalone")
    if per:
        line = f"per kept pair: {per['calls']:.1f} calls, {per['tokens']:,.0f} tokens, {money(per['usd'])}"
        if alone and alone["calls"] != per["calls"]:
            line += (
                f" paid; {alone['calls']:.1f} calls, {alone['tokens']:,.0f} tokens, {money(alone['usd'])}"
                " counting request-cache hits (the cost on a cold cache)"
            )
        lines.append(line)
    lines.append(
        f"run total: {usage['calls']} calls, {usage['tokens']:,} tokens, {money(usage['usd'])}; this session: "
        f"{session['provider_calls']} calls, {session['cache_hits']} cache hits, {session['replayed']} replayed; "
        f"{manifest['wall_time_s']:.1f}s"
    )
    lines.append(
        f"wrote {out}/kept.jsonl, rejected.jsonl, dataset/ (with its card and data/*.parquet), manifest.json"
    )
    typer.echo("\n".join(lines))


def run() -> None:
    """Entry point for the ``codeclm`` script."""
    stop_once_on_signals()
    _temp_dir_or_exit()
    sys.exit(app())


def _temp_dir_or_exit() -> None:
    """One line and exit 4 when no temp directory can be written (a full disk).

    HF datasets (through dill) and the optimizers find one as they are
    imported, and the standard library raises then: a traceback from inside
    an import, before any command ran. Found first here, the answer is cached
    for them.
    """
    import tempfile

    try:
        tempfile.gettempdir()
    except OSError as exc:
        typer.echo(
            f"codeclm: error: {exc.strerror or exc} (a full disk?): free some space, or set TMPDIR "
            "to a directory with room, and run the same command again",
            err=True,
        )
        sys.exit(4)


def _add_commands() -> None:
    """Commands that plug-ins register under the ``codeclm_dspy.commands`` entry-point group.

    The evals and optimizers packages build on the core, never the reverse:
    their ``eval``, ``compile`` and ``sweep`` commands are found by name here
    (see pyproject.toml), a typer app as a command group, a function as a command.
    """
    for entry in sorted(entry_points(group="codeclm_dspy.commands"), key=lambda e: e.name):
        command = entry.load()
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=entry.name)
        else:
            app.command(entry.name)(command)


_add_commands()
