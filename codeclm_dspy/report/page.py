"""The report as one self-contained HTML file: the data as JSON, the page's own CSS and JS.

Nothing is fetched: no CDN, no font, no script beside it (a Content-Security-
Policy forbids any request), so the file opens offline and can be mailed.
The data sits in a ``<script type="application/json">`` block with every
``<``, ``>`` and ``&`` written as a JSON escape, so no item text (an
instruction holding ``</script>``) can end the block; the page's script then
puts text into the DOM only as text, never as markup. The JSON is scrubbed
of every registered secret before it is written.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

from codeclm_dspy.report.assets_css import CSS
from codeclm_dspy.report.browser_js import BROWSER_JS
from codeclm_dspy.report.charts_js import CHARTS_JS
from codeclm_dspy.report.other_data import comparison_report, crr_report, program_report, sweep_report
from codeclm_dspy.report.pages_js import PAGES_JS
from codeclm_dspy.report.read import kind_of, read_json, register_keys
from codeclm_dspy.report.run_data import run_report
from codeclm_dspy.report.run_js import RUN_JS
from codeclm_dspy.secrets import scrub

SIGNATURE = "<!-- codeclm report:"  # the first comment of every report: a file we may replace
BUILDERS = {
    "run": run_report,
    "crr": crr_report,
    "program": program_report,
    "comparison": comparison_report,
    "sweep": sweep_report,
}
TITLES = {
    "run": "Generate run",
    "crr": "CRR evaluation",
    "program": "Compiled program",
    "comparison": "Comparison",
    "sweep": "Sweep",
}
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def report_data(path: Path, kind: str | None = None) -> dict[str, Any]:
    """What the page shows about the directory ``path`` (see ``run_data`` and ``other_data``)."""
    kind = kind or kind_of(path)
    register_keys(read_json(path / "manifest.json"))
    data = BUILDERS[kind](path)
    data["title"] = f"{TITLES[kind]}: {path.resolve().name}"
    data["path"] = str(path.resolve())
    data["generated_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return data


def embed(data: dict[str, Any]) -> str:
    """``data`` as JSON that cannot leave its script block, with secrets masked."""
    text = scrub(json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":")))
    # JSON strings may hold these escaped; markup around the block can then never be closed from inside
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(path: str | Path) -> str:
    """The report of ``path`` as an HTML document.

    Raises:
        ReportError: ``path`` is not a directory codeclm wrote, or a file in it is damaged.
    """
    path = Path(path)
    data = report_data(path)
    title = html.escape(scrub(data["title"]))
    return "\n".join(
        [
            "<!doctype html>",
            f"{SIGNATURE} written by `codeclm report`; safe to delete or replace -->",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">',
            f"<title>{title}</title>",
            f"<style>{CSS}</style>",
            "</head><body>",
            f'<header class="top"><div class="wrap"><h1>{title}</h1><p class="sub" id="sub"></p></div></header>',
            '<main class="wrap" id="app"><noscript>This report draws its charts and item browser with '
            "JavaScript; enable it to see them.</noscript></main>",
            f'<script type="application/json" id="report-data">{embed(data)}</script>',
            f"<script>{CHARTS_JS}\n{BROWSER_JS}\n{RUN_JS}\n{PAGES_JS}</script>",
            "</body></html>",
            "",
        ]
    )
