"""Keep a benchmark's table in README.md, between two markers, as the script last measured it.

A number in the README must be one somebody measured, next to the command
that measures it. Copying tables by hand lets the two drift apart, so the
benchmark scripts rewrite their own block (``--readme``): the lines between
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``, stamped with the commit
and the machine's load. Nothing outside the markers is touched.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# what the scripts write and what is only read by people: a change there changes no measurement
NOT_MEASURED = (":(exclude)README.md", ":(exclude)docs", ":(exclude)benchmarks/results")


def commit() -> str:
    """The checkout's short commit, with ``+changes`` when the code differs from it.

    Uncommitted text in the README, docs/ or benchmarks/results/ does not
    count: one benchmark script writes there while the next one runs.
    """

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", *NOT_MEASURED)
    return head + ("+changes" if dirty else "")


def stamp(command: str, load: float) -> str:
    """Where the numbers come from: commit, cores, load at the start, the command."""
    return (
        f"Measured at commit {commit()} on a {os.cpu_count()}-core machine (load average {load:.2f} "
        f"at the start) by `{command}`."
    )


def write_block(name: str, lines: list[str], readme: Path = ROOT / "README.md") -> None:
    """Replace the block ``name`` in ``readme`` with ``lines``.

    Raises:
        SystemExit: the README has no such block (its markers were removed).
    """
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = readme.read_text(encoding="utf-8")
    head, found, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise SystemExit(f"{readme} has no {start} ... {end} block to write the table into")
    readme.write_text(head + start + "\n" + "\n".join(lines) + "\n" + end + tail, encoding="utf-8")
    print(f"wrote the {name} table into {readme}")
