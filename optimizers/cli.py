"""``codeclm compile``: the command line of the optimizers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from codeclm_dspy.cli_support import ReportOption, report_at_end


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
    random_seed: Annotated[
        int | None, typer.Option(help="Random seed, 0 to 4294967295 (split, optimizers).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    report: ReportOption = True,
) -> None:
    """Compile CodecLM's step prompts on the seeds; score each step on held-out seeds before and after."""
    from codeclm_dspy.cli_support import check_cache, cli_errors
    from codeclm_dspy.config import load_config
    from codeclm_dspy.out_paths import check_dir
    from codeclm_dspy.progress import NullProgress, RichProgress
    from optimizers.compile import compile_program

    with cli_errors():
        check_dir(out, "program")
        cfg = load_config(config, random_seed=random_seed)
        check_cache(cfg.engine)
        _quiet_dspy()
        manifest = compile_program(cfg, seeds, out, progress=NullProgress() if quiet else RichProgress())
    typer.echo(summary(manifest, out))
    report_at_end(out, report)


def _quiet_dspy() -> None:
    """DSPy's optimizers log every trial; the progress bars and the manifest say what matters.

    Optuna makes its log handler when first imported, bound to the stderr of
    that moment; imported inside a compile step, that would be the step's log
    file, closed after the step. Imported here, its handler goes through
    ``safe_logging`` like every other.
    """
    import logging

    import optuna  # noqa: F401  (its handler, made now)

    from codeclm_dspy.cli_support import safe_logging

    for name in ("dspy", "optuna", "gepa"):
        logging.getLogger(name).setLevel(logging.WARNING)
    safe_logging()


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


sweep_app = typer.Typer(
    help="Optuna sweeps over the pipeline's knobs: quality against cost, on one machine or many.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@sweep_app.callback()
def sweep_command(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option(help="Base YAML config; every trial is a copy of it.")
    ] = None,
    space: Annotated[Path | None, typer.Option(help="Search space YAML (knobs and objectives).")] = None,
    seeds: Annotated[Path | None, typer.Option(help="Seeds every trial generates from.")] = None,
    heldout: Annotated[
        Path | None, typer.Option(help="Held-out benchmark the data is scored against.")
    ] = None,
    trials: Annotated[int, typer.Option(min=1, help="Finished trials the study should hold.")] = 10,
    storage: Annotated[
        str | None,
        typer.Option(
            help="Optuna storage URL (default: sqlite:///OUT/study.db; PostgreSQL for many workers)."
        ),
    ] = None,
    study: Annotated[str, typer.Option(help="Study name in the storage.")] = "codeclm-sweep",
    out: Annotated[
        Path, typer.Option(help="Sweep directory: trials/<number>/ and the default storage.")
    ] = Path("runs/sweep"),
    report: ReportOption = True,
) -> None:
    """Run (or resume) a sweep; `codeclm sweep best` exports the chosen config."""
    if ctx.invoked_subcommand is not None:
        return
    from codeclm_dspy.cli_support import check_cache, cli_errors
    from codeclm_dspy.config import load_config
    from codeclm_dspy.errors import ConfigError
    from codeclm_dspy.out_paths import check_dir
    from optimizers.space import load_space
    from optimizers.sweep import run_sweep
    from optimizers.sweep_storage import check_storage, check_study_name

    with cli_errors():
        missing = [
            n
            for n, v in (("--config", config), ("--space", space), ("--seeds", seeds), ("--heldout", heldout))
            if v is None
        ]
        if missing:
            raise ConfigError(f"codeclm sweep needs {', '.join(missing)}")
        check_dir(out, "sweep")
        check_study_name(study)
        if storage:
            check_storage(storage)
        _quiet_dspy()
        base = _raw_config(config)
        check_cache(load_config(config).engine)
        result = run_sweep(
            base,
            load_space(space),
            seeds,
            heldout,
            out,
            trials=trials,
            storage=storage,
            study_name=study,
            on_trial=lambda t: typer.echo(_trial_line(t)),
        )
        from optimizers.sweep_plots import write_plots

        charts = write_plots(result, out / "plots")
    typer.echo(_front(result))
    for name, outcome in charts.items():
        typer.echo(
            f"  {out / 'plots' / name}.png/.html: {outcome}"
            if outcome != "written"
            else f"  wrote {out / 'plots' / name}.png and .html"
        )
    # the report reads the trials from OUT/study.db: not from a storage elsewhere
    report_at_end(out, report and storage is None)


def _trial_line(t) -> str:
    knobs = ", ".join(f"{k}={v}" for k, v in t.params.items())
    if t.values:
        return f"trial {t.number}: quality {t.values[0]:.4f}, cost {t.values[1]:.4f} ({knobs})"
    return f"trial {t.number}: {t.state.name.lower()}, {t.user_attrs.get('outcome', '')} ({knobs})"


def _raw_config(path: Path) -> dict[str, Any]:
    from codeclm_dspy.config import load_config
    from codeclm_dspy.errors import ConfigError
    from codeclm_dspy.files import load_yaml

    load_config(path)  # validates, with the usual messages
    return load_yaml(path, "config file", ConfigError)


def _front(study) -> str:
    import optuna

    trials = study.get_trials(deepcopy=False)
    states = {s.name.lower(): sum(t.state == s for t in trials) for s in optuna.trial.TrialState}
    lines = [f"study '{study.study_name}': " + ", ".join(f"{n} {c}" for n, c in states.items() if c)]
    lines.append("Pareto front (quality up, cost down):")
    for t in sorted(study.best_trials, key=lambda t: -t.values[0]):
        knobs = ", ".join(f"{k}={v}" for k, v in t.params.items())
        lines.append(f"  trial {t.number:>3}: quality {t.values[0]:.4f}, cost {t.values[1]:.4f}  ({knobs})")
    return "\n".join(lines)


@sweep_app.command("best")
def best_command(
    out: Annotated[Path, typer.Option(help="Where to write the chosen config (YAML).")],
    storage: Annotated[str | None, typer.Option(help="The sweep's storage URL.")] = None,
    sweep_dir: Annotated[Path, typer.Option(help="The sweep directory (for the default storage).")] = Path(
        "runs/sweep"
    ),
    study: Annotated[str, typer.Option(help="Study name.")] = "codeclm-sweep",
    objective: Annotated[str, typer.Option(help="quality or cost: the best Pareto trial on it.")] = "quality",
    trial: Annotated[int | None, typer.Option(help="Export this trial instead.")] = None,
) -> None:
    """Export the best config (per objective, or a chosen trial) as YAML for `codeclm generate`."""
    from codeclm_dspy.cli_support import cli_errors
    from codeclm_dspy.errors import ConfigError
    from codeclm_dspy.out_paths import shown
    from optimizers.sweep_best import check_out, pick, write_best
    from optimizers.sweep_storage import check_storage, check_study_name, open_study

    with cli_errors():
        if objective not in ("quality", "cost"):
            raise ConfigError(f"--objective takes quality or cost, not {objective!r}")
        check_out(out)
        check_study_name(study)
        if storage is None:
            if not (sweep_dir / "study.db").is_file():
                where = shown(sweep_dir / "study.db")
                raise ConfigError(f"no sweep storage at {where}; pass --storage or --sweep-dir")
            storage = f"sqlite:///{sweep_dir.resolve() / 'study.db'}"
        check_storage(storage, existing=True)
        _quiet_dspy()
        chosen = write_best(pick(open_study(storage, study, create=False), objective, trial), out)
    typer.echo(
        f"trial {chosen['trial']} (quality {chosen['values'][0]:.4f}, cost {chosen['values'][1]:.4f}) -> {out}"
    )
