"""``codeclm report``: one HTML file to look at what a run, evaluation, compile or sweep did.

A run's truth is spread over kept.jsonl, rejected.jsonl, manifest.json and
state.sqlite; the report puts it on one page that works offline: the cost
funnel, the gaps of Contrastive Filtering (CodecLM §4.3) against θ, the cost
per step and per kept pair, why items were not kept, and a browser over every
item with its whole trajectory. Evaluations, compiled programs, comparisons
and sweeps get their tables, charts and per-item views.

The report reads output files only, never the ``evals`` or ``optimizers``
packages, so it sits in the core and every command can write one.

    from codeclm_dspy.report import write_report
    path = write_report("runs/demo")  # runs/demo/report.html
"""

from __future__ import annotations

from pathlib import Path

from codeclm_dspy.out_paths import check_dir, check_file, replace_file
from codeclm_dspy.report.page import SIGNATURE, render
from codeclm_dspy.report.read import ReportError, kind_of

REPORT = "report.html"

__all__ = ["REPORT", "ReportError", "render", "write_report"]


def write_report(path: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of the directory ``path``; return where it went.

    Args:
        path: a directory codeclm wrote (run, CRR evaluation, compiled
            program, comparison or sweep).
        out: the HTML file to write; default ``path/report.html``. An existing
            file is replaced only when it is an earlier report.

    Raises:
        ReportError: ``path`` is not a directory codeclm wrote, or a file in it is damaged.
        RunDirError: the report may not be written there (not ours, not writable).
        OutputWriteFailed: writing it failed (a full disk); nothing half written is left.
    """
    path = Path(path)
    kind = kind_of(path)
    if out is None:
        check_dir(path, kind, what="directory")  # ours, whole, and writable, as every command checks
        out = path / REPORT
    target = check_file(out, "report file", accept=_earlier_report)
    replace_file(target, render(path))
    return target


def _earlier_report(path: Path) -> str | None:
    """Why an existing file may not be replaced (None: it is a report we wrote)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(200)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if SIGNATURE in head else "it exists and is not a codeclm report; choose another --out"
