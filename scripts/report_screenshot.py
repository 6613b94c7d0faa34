"""Render the report of a demo run and save a screenshot of it (docs/report.png, for the README).

    .venv/bin/python scripts/report_screenshot.py [RUN] [--out docs/report.png]

RUN defaults to the newest runs/demo-* (``make demo`` writes one). The run is
copied to a temporary directory first, so the demo's own directory is never
written into; the page is opened in headless Chromium (benchmarks/headless.py)
at 1400 px wide, and its top (header, funnel, filter rounds) is captured.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout

from benchmarks.headless import Browser  # noqa: E402
from codeclm_dspy.report import write_report  # noqa: E402


def newest_demo() -> Path:
    runs = sorted((ROOT / "runs").glob("demo-*"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise SystemExit("no runs/demo-* here; run `make demo` first, or name a run directory")
    return runs[-1]


async def capture(report: Path, tmp: Path, height: int) -> bytes:
    async with Browser.start(tmp, width=1400, height=height) as page:
        await page.open(report)
        if page.errors:
            raise SystemExit(f"the report reported errors: {page.errors}")
        return await page.screenshot()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="a run directory (default: the newest runs/demo-*)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--height", type=int, default=1300, help="pixels of the page's top to capture")
    args = parser.parse_args()
    run = args.run or newest_demo()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / run.name
        shutil.copytree(run, copy)
        shot = asyncio.run(capture(write_report(copy), Path(tmp), args.height))
    args.out.write_bytes(shot)
    print(f"wrote {args.out} from {run}")


if __name__ == "__main__":
    main()
