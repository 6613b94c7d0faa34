"""Writing a comparison: its two failures are the user's to fix, so they exit 2, never 1 (kept for a
failed ``--push-to-hub``)."""

import sys

import pytest

from codeclm_dspy.errors import RunDirError
from evals.report import ChartError, write_report


def test_missing_matplotlib_is_one_line_with_exit_2(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ChartError, match="needs matplotlib") as caught:
        write_report(None, tmp_path / "out")
    assert caught.value.exit_code == 2
    assert not (tmp_path / "out").exists()  # checked before anything is written


def test_an_output_that_cannot_be_written_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    with pytest.raises(RunDirError, match="cannot write the comparison report") as caught:
        write_report(None, blocker / "out")
    assert caught.value.exit_code == 2
    assert blocker.read_text() == "mine"
