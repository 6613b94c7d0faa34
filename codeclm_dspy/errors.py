"""Exceptions the CLI turns into one clear message and a non-zero exit.

Anything raised as a ``CodecLMError`` is the user's to fix (a file, a config
value, a provider that cannot be reached); anything else is our bug and keeps
its traceback.
"""


class CodecLMError(Exception):
    """Base class for errors that carry a message meant for the user."""

    exit_code = 1


class ConfigError(CodecLMError):
    """The YAML config is missing, malformed or fails validation."""

    exit_code = 2


class SeedError(CodecLMError):
    """The seed file is missing, empty or has a bad record."""

    exit_code = 2


class ProviderError(CodecLMError):
    """A model role cannot be used: unknown provider, no key, no server."""

    exit_code = 3


class RunDirError(CodecLMError):
    """The output directory cannot be used for this run."""

    exit_code = 2


class StepParseError(CodecLMError):
    """A model's answer could not be parsed into a step's outputs.

    Attributes:
        step: the pipeline step whose output failed to parse.
        raw: the raw text the model returned, kept for the rejected record.
    """

    def __init__(self, step: str, message: str, raw: str | None = None):
        super().__init__(f"{step}: {message}")
        self.step = step
        self.raw = raw


class RunStopped(CodecLMError):
    """The run stopped early on purpose; everything so far is saved and resumable."""

    exit_code = 4


class BudgetExhausted(RunStopped):
    """A budget cap (calls, tokens or USD) was reached."""


class ProviderStopped(RunStopped):
    """The provider stopped answering usefully (auth, rate limit, connection) even after retries."""


class JournalWriteFailed(RunStopped):
    """The run's state file could not be written (disk full, permissions); what was committed stays."""


class OutputWriteFailed(RunStopped):
    """A run's exported file (kept.jsonl, dataset/, manifest.json) could not be written (disk full, permissions).

    A stop, not a failure: the state file holds everything the run did, so
    the same command with room again writes them.
    """


class ProviderUnreachable(ProviderStopped):
    """The connection to a provider failed (refused, reset, DNS, TLS, connect timeout) past the retries.

    Its message is one line naming the endpoint and what failed; nothing of
    it is any item's fault, so no item is marked failed for it.
    """


def status_of(exc: BaseException) -> str:
    """The manifest status of a run that ended with ``exc``: stopped, interrupted or failed."""
    if isinstance(exc, RunStopped):
        return "stopped"
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"


def first_line(exc: BaseException) -> str:
    """``Type: first line of the message``: enough to name a failure in one line."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else 'no message'}"
