"""What every command shares: here, which of Python's warnings a user never sees."""

import gc
import warnings

from typer.testing import CliRunner

from codeclm_dspy.cli import app


class OpenAIChatCompletion:  # named as the LiteLLM handler whose call a timeout abandoned in a run
    async def acompletion(self):
        return "never"


async def acompletion():  # a module-level one, as litellm.acompletion: never awaiting it is our bug
    return "never"


def abandon(make) -> list[str]:
    """Run a command (its callback sets the filters), drop a coroutine unawaited: the warnings shown."""
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        CliRunner().invoke(app, ["status", "/nonexistent/run"])
        make()
        gc.collect()
    return [str(w.message) for w in shown if issubclass(w.category, RuntimeWarning)]


def test_a_litellm_call_its_timeout_abandoned_prints_nothing():
    assert abandon(lambda: OpenAIChatCompletion().acompletion()) == []


def test_any_other_coroutine_never_awaited_still_warns():
    assert abandon(acompletion) == ["coroutine 'acompletion' was never awaited"]
