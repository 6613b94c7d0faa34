"""``python -m codeclm_dspy`` is the ``codeclm`` command."""

from codeclm_dspy.cli import run

run()
