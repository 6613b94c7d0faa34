"""What every ``codeclm`` command shares: one line per expected error, safe logging, a usable cache.

The commands of the evals and optimizers plug-ins import these too, so they
live apart from ``cli.py``, which loads those plug-ins.
"""

from __future__ import annotations

import logging
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

# every command that writes a directory `codeclm report` reads takes this switch
ReportOption = Annotated[
    bool, typer.Option("--report/--no-report", help="Write report.html (see `codeclm report`) at the end.")
]


def report_at_end(out: Path, enabled: bool, pushing: bool = False) -> None:
    """Write the directory's HTML report and print its path (the command's last line).

    A report that cannot be written (a full disk) is exit 4 and one line
    that says the rest is whole: the command's own files are written by then.
    With ``pushing`` (``--push-to-hub``, which comes after the report) the
    line says the push was not made.
    """
    if not enabled:
        return
    from codeclm_dspy.errors import OutputWriteFailed
    from codeclm_dspy.out_paths import shown
    from codeclm_dspy.report import write_report

    with cli_errors():
        try:
            typer.echo(f"report: {write_report(out)}")
        except OutputWriteFailed as exc:
            where = shown(out)
            whole = f"everything else in {where} is written and whole"
            if pushing:
                whole += ", but not pushed: run the same command again (it makes no calls) to write the report and push"
            else:
                whole += f"; `codeclm report {where}` writes the report"
            raise OutputWriteFailed(f"{exc}; {whole}") from None


@contextmanager
def cli_errors() -> Iterator[None]:
    """One clear line and an exit code for every expected failure, no traceback.

    Log handlers that libraries made during the command are made safe at its
    end (``safe_logging``), before the stream they captured can close.
    """
    from codeclm_dspy.errors import CodecLMError
    from codeclm_dspy.secrets import scrub

    try:
        yield
    except CodecLMError as exc:
        typer.echo(f"codeclm: error: {scrub(str(exc))}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("codeclm: interrupted; run the same command again to resume", err=True)
        raise typer.Exit(130) from None
    finally:
        safe_logging()


class _LiveStderr:
    """Whatever ``sys.stderr`` is when a log record is written; nothing once it is closed.

    Libraries bind their log handlers to the stream that was ``sys.stderr``
    when the handler was made: a test runner's capture, or the step log a
    compile redirects stderr to, both closed soon after. Their next record
    then printed ``--- Logging error ---`` and a traceback.
    """

    def write(self, text: str) -> None:
        stream = sys.stderr
        if stream is not None and not getattr(stream, "closed", False):
            stream.write(text)

    def flush(self) -> None:
        stream = sys.stderr
        if stream is not None and not getattr(stream, "closed", False):
            stream.flush()

    def isatty(self) -> bool:  # colour formatters (Optuna's colorlog) ask
        stream = sys.stderr
        return stream is not None and not getattr(stream, "closed", False) and stream.isatty()


_LIVE = _LiveStderr()


def safe_logging() -> None:
    """Point every library log handler bound to stderr (or a closed stream) at the live stderr.

    Called when a command starts and again once a library that makes its
    handler late (Optuna) has made it. A record that still cannot be
    written is dropped rather than printed with a traceback.
    """
    logging.raiseExceptions = False
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            stream = vars(handler).get("stream")  # a class property (lastResort) resolves itself
            if isinstance(handler, logging.FileHandler) or stream is None or stream is _LIVE:
                continue
            if stream in (sys.stderr, sys.__stderr__) or getattr(stream, "closed", False):
                with handler.lock:
                    handler.stream = _LIVE  # not setStream: it flushes the old, maybe closed, stream
                    if getattr(handler.formatter, "stream", None) is stream:  # colorlog keeps one too
                        handler.formatter.stream = _LIVE


# LiteLLM's acompletion prepares each call on a worker thread and then awaits
# the provider's coroutine that thread returns. When a call's timeout
# (engine/send.py) cuts it off while the thread is still preparing it, which
# happens on a machine too loaded to prepare a call within its timeout, the
# thread's coroutine is never awaited and Python warns about it when it is
# collected. Nothing is lost (the call is not journaled: it is sent again),
# and the warning would land above the run's own one-line message.
ABANDONED_LITELLM_CALL = r"coroutine '\w+\.acompletion' was never awaited"


def stop_once_on_signals() -> None:
    """The first Ctrl-C or SIGTERM stops the command as Ctrl-C does; later ones are ignored.

    A stopping run still closes its session: it writes the manifest and the
    kept and rejected files, and closes the journal and LiteLLM's clients
    (about 3 s with many calls in flight). A second Ctrl-C during that broke
    it off with a traceback and no manifest. SIGTERM (what ``timeout``,
    Docker and systemd send) killed the process at once, with no manifest; it
    now gets the same clean stop. SIGKILL still ends it at any moment, and
    the same command resumes.
    """

    def first(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first)
    signal.signal(signal.SIGTERM, first)


def quiet_abandoned_calls() -> None:
    """Hide Python's warning about a LiteLLM call that its timeout abandoned (see above),
    and pydantic's about an answer LiteLLM could not read.

    Only the provider handlers' ``<Class>.acompletion`` coroutines: any other
    coroutine never awaited is a bug and still warns. And pydantic's
    serializer warnings, in the CLI only: a garbled answer (a ``usage`` of the
    wrong types) makes LiteLLM's OpenAI client dump it with a warning several
    lines long (raised from pydantic's own module, so it cannot be told apart
    by where it came from), above the run's own line, which already names the
    model and what happened (``engine/unreadable_answers.py``). A library
    user calling the engine directly still sees them.
    """
    warnings.filterwarnings("ignore", message=ABANDONED_LITELLM_CALL, category=RuntimeWarning)
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)


def check_cache(engine) -> None:
    """The request cache's directory, checked like any output before work starts."""
    import os

    from codeclm_dspy.errors import RunDirError
    from codeclm_dspy.out_paths import check_dir, shown

    if not engine.cache:
        return
    what = "the request cache directory"
    if engine.cache_dir:
        what = "engine.cache_dir"
    elif os.environ.get("CODECLM_CACHE_DIR"):
        what = "CODECLM_CACHE_DIR"
    try:
        path = engine.cache_path()
    except (ValueError, RuntimeError) as exc:  # expanduser of '~nobody\0'
        raise RunDirError(f"cannot write to {what} {shown(engine.cache_dir or '')}: {exc}") from None
    check_dir(path.parent, "cache", what=what)
