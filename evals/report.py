"""A comparison as a table (Markdown, terminal), a JSON record and a chart.

The same columns everywhere, so the README table, the terminal and the JSON
agree; the chart shows only the 0-1 quality metrics, where methods can share
one axis.

    from evals.report import print_table, write_report
    paths = write_report(comparison, "reports/vicuna")  # {"json", "md", "png"}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import CodecLMError, RunDirError
from codeclm_dspy.out_paths import shown
from evals.compare import Comparison

NA = "n/a"


class ChartError(CodecLMError):
    """The comparison chart cannot be drawn here: matplotlib, from the evals extra, is missing.

    Exit 2, as for a baseline's missing extra: the setup is the user's to fix,
    and exit 1 is kept for a failed ``--push-to-hub``.
    """

    exit_code = 2


def _num(key: str, digits: int = 3) -> Callable[[dict[str, Any]], str]:
    return lambda row: NA if row.get(key) is None else f"{row[key]:.{digits}f}"


def _kept(row: dict[str, Any]) -> str:
    removed = row.get("removed")
    return f"{row['evaluated']} ({removed} removed)" if removed else str(row["kept"])


def _leaks(row: dict[str, Any]) -> str:
    n = row.get("contaminated") or 0
    return f"{n} ({row['contaminated_exact']} exact)" if n else "0"  # the rest are near copies


def _usd(row: dict[str, Any]) -> str:
    x = row.get("usd_per_kept")
    if x is None:
        return NA
    return f"${x:,.2f}" if x >= 1 else f"${x:.3g}"


def _tokens(row: dict[str, Any]) -> str:
    return NA if row.get("tokens_per_kept") is None else f"{row['tokens_per_kept']:,.0f}"


def _method(row: dict[str, Any]) -> str:
    status = row.get("status")
    return row["method"] if status == "complete" else f"{row['method']} [{status}]"


# (header, cell); arrows say which way is better, so a reader need not know each metric
COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("Method", _method),
    ("Kept pairs", _kept),
    ("Coverage ↑", _num("coverage")),
    ("Precision ↑", _num("precision")),
    ("NN sim ↑", _num("mean_nn_similarity")),
    ("Distinct-1 ↑", _num("distinct_1")),
    ("Distinct-2 ↑", _num("distinct_2")),
    ("Pairwise dist ↑", _num("mean_pairwise_distance")),
    ("Near-dup ↓", _num("near_duplicate_rate")),
    ("Contaminated ↓", _leaks),
    ("Calls/kept ↓", _num("calls_per_kept", 1)),
    ("Tokens/kept ↓", _tokens),
    ("USD/kept ↓", _usd),
]

# the 0-1 metrics the chart shows: (row key, label)
CHART = [
    ("coverage", "coverage ↑"),
    ("precision", "precision ↑"),
    ("mean_nn_similarity", "NN sim ↑"),
    ("distinct_1", "distinct-1 ↑"),
    ("distinct_2", "distinct-2 ↑"),
    ("mean_pairwise_distance", "pairwise dist ↑"),
    ("near_duplicate_rate", "near-dup ↓"),
    ("contamination_rate", "contaminated ↓"),
]


def sample_note(comparison: Comparison) -> str:
    """How many rows of each run the metrics saw: equal N, or every row (``--full``)."""
    equal = comparison.settings.get("equal_n")
    if equal is None:
        return "on every kept row (full data: run sizes differ, which moves coverage and diversity)"
    if equal["n"] is None:
        return "at equal N, but no run has rows to measure"
    return f"at equal N = {equal['n']} (seeded subsample, seed {equal['seed']})"


def header(comparison: Comparison) -> str:
    """One line: how many rows were measured, against what, and with which thresholds."""
    s = comparison.settings
    sizes = "; Kept pairs is each run's full size" if s.get("equal_n") else ""
    sets = ", ".join(f"{name} ({v['size']})" for name, v in s["eval_sets"].items())
    removed = "; contaminated rows removed before measuring" if s["remove_contaminated"] else ""
    return (
        f"Metrics {sample_note(comparison)}{sizes}. "
        f"Held-out set `{s['heldout']['path']}` ({s['heldout']['size']} items), {len(comparison.rows)} runs; "
        f"embedder {s['embedder']}; coverage/precision at cosine ≥ {s['coverage_threshold']}, "
        f"near-duplicate ≥ {s['duplicate_threshold']}, contamination ≥ {s['contamination_threshold']} "
        f"against {sets}{removed}."
    )


def to_markdown(comparison: Comparison) -> str:
    """The comparison as a header line and one Markdown table, one row per run."""
    cells = [[cell(row).replace("|", "\\|") for _, cell in COLUMNS] for row in comparison.rows]
    lines = [
        header(comparison),
        "",
        "| " + " | ".join(h for h, _ in COLUMNS) + " |",
        "|" + "|".join(":---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


def print_table(comparison: Comparison, console: Any = None) -> None:
    """Print the comparison with rich: one table if the terminal is wide enough, else three.

    Cells never wrap (a number split over lines misreads); headers break
    before their arrow.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = console or Console()
    cells = [[cell(row) for _, cell in COLUMNS] for row in comparison.rows]
    heads = [
        name.rsplit(" ", 1)[0] + "\n" + name.rsplit(" ", 1)[1] if " " in name else name for name, _ in COLUMNS
    ]
    widths = [max([len(x) for x in h.split("\n")] + [len(r[i]) for r in cells]) for i, h in enumerate(heads)]
    note = sample_note(comparison)
    groups = {f"Run comparison {note}": range(len(COLUMNS))}
    if sum(widths) + 3 * len(widths) > console.width:  # the same columns, by what they measure
        groups = {
            f"Match to the held-out set {note}": [0, 1, 2, 3, 4],
            f"Diversity {note}": [0, 5, 6, 7, 8],
            "Leaks and cost (all rows)": [0, 9, 10, 11, 12],
        }
    for title, columns in groups.items():
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
        for i in columns:
            table.add_column(
                heads[i], justify="left" if i == 0 else "right", no_wrap=True, min_width=widths[i]
            )
        for row in cells:
            table.add_row(*(Text(row[i]) for i in columns))  # Text: "[stopped]" is not markup
        console.print(table)
    console.print(Text(header(comparison), style="dim"))


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ChartError(
            "the comparison chart needs matplotlib; install the evals extra: bash scripts/setup.sh evals"
        ) from None
    matplotlib.use("Agg")  # files only: no display on these machines
    import matplotlib.pyplot as plt

    return plt


def chart(comparison: Comparison, path: Path) -> Path:
    """A grouped bar chart of the 0-1 metrics, one bar colour per method."""
    import numpy as np

    plt = _pyplot()
    rows, width = comparison.rows, 0.8 / max(1, len(comparison.rows))
    x = np.arange(len(CHART))
    fig, ax = plt.subplots(figsize=(max(8.0, 1.2 * len(CHART) + 0.4 * len(rows)), 4.8))
    for n, row in enumerate(rows):
        values = [row.get(key) for key, _ in CHART]
        offsets = x - 0.4 + width * (n + 0.5)
        bars = ax.bar(offsets, [0 if v is None else v for v in values], width, label=_method(row))
        for bar, v in zip(bars, values, strict=True):
            text = NA if v is None else f"{v:.2f}"
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
                rotation=90 if len(rows) > 3 else 0,
                xytext=(0, 2),
                textcoords="offset points",
            )
    ax.set_xticks(x, [label for _, label in CHART], rotation=20, ha="right")
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("score (0-1)")
    s = comparison.settings
    title = (
        f"Runs against {Path(s['heldout']['path']).name} ({s['heldout']['size']} items), embedder {s['embedder']}\n"
        f"metrics {sample_note(comparison)}\ncoverage/precision at cosine ≥ {s['coverage_threshold']}, "
        f"near-dup ≥ {s['duplicate_threshold']}, contamination ≥ {s['contamination_threshold']}"
    )
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(comparison: Comparison, out_dir: str | Path) -> dict[str, Path]:
    """Write comparison.json, comparison.md and comparison.png into ``out_dir``.

    Raises:
        ChartError: matplotlib is missing (checked before anything is written).
        RunDirError: ``out_dir`` cannot be written (exit 2, as any unusable output path).
    """
    _pyplot()
    out = Path(out_dir)
    paths = {"json": out / "comparison.json", "md": out / "comparison.md", "png": out / "comparison.png"}
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths["json"].write_text(
            json.dumps(comparison.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        paths["md"].write_text(to_markdown(comparison), encoding="utf-8")
        chart(comparison, paths["png"])
    except OSError as exc:
        raise RunDirError(
            f"cannot write the comparison report to {shown(out)}: {exc.strerror or exc}"
        ) from None
    return paths
