"""The progress bars: a stage that meets its goal early ends full; one stopped by an error does not."""

import pytest

from codeclm_dspy.progress import RichProgress


def last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1]


def test_a_stage_that_met_its_goal_early_ends_full(capsys):
    # the quota's filtering: up to 22 instructions may be needed, the 12th met the quota
    with RichProgress().stage("self-rubrics + filtering", 22) as tick:
        for _ in range(12):
            tick()
    assert "12/12" in last_line(capsys.readouterr().out)


def test_a_stage_stopped_by_an_error_keeps_its_count(capsys):
    with pytest.raises(RuntimeError), RichProgress().stage("encode", 30) as tick:
        for _ in range(7):
            tick()
        raise RuntimeError("budget reached")
    assert "7/30" in last_line(capsys.readouterr().out)
