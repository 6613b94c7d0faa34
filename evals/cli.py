"""``codeclm eval ...``: split a benchmark, measure CRR, compare generated datasets."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated

import typer

from codeclm_dspy.cli_support import ReportOption, cli_errors, report_at_end

InstructionField = Annotated[
    str | None,
    typer.Option(
        help="Field holding each item's text (a list of turns gives its first turn). Default: instruction."
    ),
]
IdField = Annotated[str | None, typer.Option(help="Field holding each item's id. Default: id.")]

eval_app = typer.Typer(
    help="Measure generated data: benchmark splits, CRR, side-by-side dataset metrics.",
    no_args_is_help=True,
)


@eval_app.command()
def split(
    benchmark: Annotated[str, typer.Option(help="Benchmark: JSONL/CSV file, saved dataset or hub id.")],
    out: Annotated[Path, typer.Option(help="Directory for seeds.jsonl and heldout.jsonl.")],
    seed_fraction: Annotated[
        float, typer.Option(help="Share of items that become seeds (paper: 0.2).")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="Random seed of the split.")] = 0,
    instruction_field: InstructionField = None,
    id_field: IdField = None,
) -> None:
    """Split a benchmark into seeds (for generate) and held-out items (for compare and crr).

    Both files are written with the usual fields (id, instruction, category,
    reference), whatever the benchmark calls them, so generate, compare and
    crr read them with their defaults.
    """
    from codeclm_dspy.out_paths import check_dir, claim_dir
    from evals.benchmarks import load_benchmark
    from evals.benchmarks import split as split_items

    with cli_errors():
        check_dir(out, "split")
        items = load_benchmark(benchmark, **_fields(instruction_field, id_field))
        seeds, heldout = split_items(items, seed_fraction, seed)
        for name in ("seeds.jsonl", "heldout.jsonl"):
            if (out / name).exists():
                raise _exists(out / name)
        real = claim_dir(out, "split", what="--out")
        # both files are written whole under temp names first: a failure leaves no half split
        parts = {"heldout.jsonl": heldout, "seeds.jsonl": seeds}
        try:
            for name, part in parts.items():
                rows = (
                    {"id": i.id, "instruction": i.text, "category": i.category, "reference": i.reference}
                    for i in part
                )
                text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                (real / f"{name}.tmp").write_text(text, encoding="utf-8")
            for name in parts:
                (real / f"{name}.tmp").replace(real / name)
        except OSError as exc:
            for name in parts:
                with contextlib.suppress(OSError):
                    (real / f"{name}.tmp").unlink(missing_ok=True)
            raise _unwritable(out, exc) from None
    typer.echo(
        f"{benchmark}: {len(seeds)} seeds -> {out / 'seeds.jsonl'}, {len(heldout)} held out -> "
        f"{out / 'heldout.jsonl'} (seed {seed})"
    )


@eval_app.command()
def crr(
    config: Annotated[
        Path, typer.Option(help="YAML config: the strong, target and judge roles, the engine.")
    ],
    benchmark: Annotated[str, typer.Option(help="Benchmark: JSONL/CSV file, saved dataset or hub id.")],
    out: Annotated[Path, typer.Option(help="Evaluation directory: new, or an earlier one to resume it.")],
    limit: Annotated[int | None, typer.Option(min=1, help="Evaluate only the first N items.")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Parallel items (overrides engine.workers).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    instruction_field: Annotated[
        str | None,
        typer.Option(help="Field holding each item's text (overrides benchmark.instruction_field)."),
    ] = None,
    id_field: Annotated[
        str | None, typer.Option(help="Field holding each item's id (overrides benchmark.id_field).")
    ] = None,
    self_judged: Annotated[
        bool,
        typer.Option(
            "--self-judged",
            help="Allow a judge that is the strong or target model; the result is marked self-judged.",
        ),
    ] = False,
    report: ReportOption = True,
) -> None:
    """Capacity Recovery Ratio of the target against the strong model, judged in both orders.

    The judge role (models.judge, temperature 0 unless set) scores with the
    paper's final-evaluation prompt; a judge equal to the strong or target
    model is refused unless --self-judged is given.
    """
    from codeclm_dspy.cli_support import check_cache
    from codeclm_dspy.config import load_config
    from codeclm_dspy.out_paths import check_dir
    from codeclm_dspy.progress import NullProgress, RichProgress
    from evals.crr_runner import run_crr

    with cli_errors():
        check_dir(out, "crr")
        cfg = load_config(config)
        check_cache(cfg.engine)
        if workers:
            cfg.engine.workers = workers
        if instruction_field:
            cfg.benchmark.instruction_field = instruction_field
        if id_field:
            cfg.benchmark.id_field = id_field
        progress = NullProgress() if quiet else RichProgress()
        result = run_crr(cfg, benchmark, out, limit=limit, self_judged=self_judged, progress=progress)
    judge = cfg.models.judge_role()
    reasons = ", ".join(f"{n} {reason}" for reason, n in result.failed_by_reason.items())
    typer.echo(str(result))
    typer.echo(
        f"target {cfg.models.target.model} vs strong {cfg.models.strong.model}, judge {judge.model} at "
        f"temperature {judge.temperature}{' (self-judged)' if result.self_judged else ''}; "
        f"{result.failed} item(s) failed{f' ({reasons})' if reasons else ''} (see {out / 'failed.jsonl'}); "
        f"wrote {out / 'verdicts.jsonl'}, manifest.json"
    )
    report_at_end(out, report)


@eval_app.command()
def compare(
    runs: Annotated[list[Path], typer.Argument(help="Run directories written by codeclm generate.")],
    against: Annotated[str, typer.Option(help="Held-out instructions of the target distribution.")],
    eval_set: Annotated[
        list[str] | None,
        typer.Option(help="NAME=PATH of an eval set to check for contamination (repeatable)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where comparison.json, .md and .png go.")] = Path("comparison"),
    embedder: Annotated[
        str, typer.Option(help="all-MiniLM-L6-v2 (offline), a local model directory or a LiteLLM model.")
    ] = "all-MiniLM-L6-v2",
    coverage_threshold: Annotated[float, typer.Option(help="Cosine for coverage and precision.")] = 0.7,
    duplicate_threshold: Annotated[float, typer.Option(help="Cosine that makes a near duplicate.")] = 0.95,
    contamination_threshold: Annotated[
        float, typer.Option(help="Cosine that makes a near copy of an eval item.")
    ] = 0.9,
    remove_contaminated: Annotated[
        bool,
        typer.Option(help="Write kept.decontaminated.jsonl in each run dir and measure that instead."),
    ] = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Measure every kept row instead of an equal-N subsample (sizes then confound metrics).",
        ),
    ] = False,
    subsample_seed: Annotated[int, typer.Option(help="Seed of the equal-N subsample.")] = 0,
    instruction_field: InstructionField = None,
    id_field: IdField = None,
    report: ReportOption = True,
) -> None:
    """One side-by-side table of generated datasets against held-out data.

    Runs keep different numbers of rows, and coverage and diversity move
    with size, so each run is measured on a seeded subsample of the smallest
    run's size unless --full is given. The field options apply to --against
    and every --eval-set.
    """
    from codeclm_dspy.out_paths import check_dir
    from evals.compare import compare as run_compare
    from evals.embeddings import Embedder
    from evals.report import print_table

    with cli_errors():
        check_dir(out, "comparison")
        if remove_contaminated:  # it writes into each run directory: only into ours
            for run in runs:
                check_dir(run, "run", what="run directory")
        sets = dict(_named(spec) for spec in eval_set or [])
        result = run_compare(
            runs,
            against,
            embedder=Embedder(embedder),
            eval_sets=sets,
            coverage_threshold=coverage_threshold,
            duplicate_threshold=duplicate_threshold,
            contamination_threshold=contamination_threshold,
            remove_contaminated=remove_contaminated,
            equal_n=not full,
            subsample_seed=subsample_seed,
            fields=_fields(instruction_field, id_field),
        )
        paths = _write_comparison(result, out)
    print_table(result)
    typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))
    report_at_end(out, report)


def _write_comparison(result, out: Path) -> dict[str, Path]:
    """comparison.json, .md and .png, made in a staging directory and moved in, the JSON last.

    A comparison that fails halfway leaves no comparison.json, and never a
    new JSON beside an older run's chart.
    """
    import os
    import shutil

    from codeclm_dspy.out_paths import MARKER, claim_dir
    from evals.report import write_report

    real = claim_dir(out, "comparison", what="--out")
    staging = real / f"{MARKER}-staging-{os.getpid()}"
    try:
        made = write_report(result, staging)
        (real / "comparison.json").unlink(missing_ok=True)
        for key in ("png", "md", "json"):
            os.replace(made[key], real / made[key].name)
    except OSError as exc:
        raise _unwritable(out, exc) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {key: out / path.name for key, path in made.items()}


def _fields(instruction_field: str | None, id_field: str | None) -> dict[str, str]:
    """The benchmark field options that were given, as ``load_benchmark`` keywords."""
    named = {"instruction_field": instruction_field, "id_field": id_field}
    return {k: v for k, v in named.items() if v}


def _named(spec: str) -> tuple[str, str]:
    from codeclm_dspy.errors import ConfigError

    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
        raise ConfigError(f"--eval-set takes NAME=PATH, not '{spec}'")
    return name, path


def _unwritable(path: Path, exc: OSError) -> Exception:
    from codeclm_dspy.errors import RunDirError

    return RunDirError(f"cannot write to {path}: {exc.strerror or exc}")


def _exists(path: Path) -> Exception:
    from codeclm_dspy.errors import RunDirError

    return RunDirError(f"{path} already exists; choose a new --out so nothing is overwritten")
