"""Live progress per stage (rich), or nothing at all in quiet mode."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class Progress(Protocol):
    """``with progress.stage(name, total) as tick: ... tick()`` once per item."""

    def stage(self, name: str, total: int) -> AbstractContextManager[Callable[[], None]]: ...


class NullProgress:
    """Quiet mode: for logs, CI and the Python API."""

    @contextmanager
    def stage(self, name: str, total: int) -> Iterator[Callable[[], None]]:
        yield lambda: None


class RichProgress:
    """A bar per stage with done/total, items per second and elapsed time.

    Args:
        status: called after every tick for extra text (kept so far, calls).
    """

    def __init__(self, status: Callable[[], str] | None = None):
        self.status = status or (lambda: "")

    @contextmanager
    def stage(self, name: str, total: int) -> Iterator[Callable[[], None]]:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        columns = (
            TextColumn("{task.description:<26}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
        )
        started = time.monotonic()
        # bound now: code inside the stage may redirect sys.stdout (optimizer logs)
        console = Console(file=sys.stdout)
        with Bar(*columns, transient=False, console=console) as bar:
            task = bar.add_task(name, total=total, rate="", status=self.status())

            def tick() -> None:
                done = bar.tasks[task].completed + 1
                rate = done / max(time.monotonic() - started, 1e-9)
                bar.update(task, advance=1, rate=f"{rate:.2f}/s", status=self.status())

            yield tick
            # a stage that met its goal early (the quota's filtering: ``total`` is
            # what it may take at most) ends full; one stopped by an error keeps its count
            bar.update(task, total=bar.tasks[task].completed)
