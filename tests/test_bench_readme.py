"""Benchmarks write their tables into the README themselves, between markers, and nowhere else."""

import re

import pytest

from benchmarks.readme_block import write_block


def test_a_block_is_rewritten_and_the_rest_of_the_readme_kept(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\n<!-- bench:peers -->\nold table\n<!-- /bench:peers -->\n\nAfter.\n")
    write_block("peers", ["| a | b |", "|---|---|"], readme)
    write_block("peers", ["| new |"], readme)  # again: replaced, not appended
    assert readme.read_text() == "# Title\n\n<!-- bench:peers -->\n| new |\n<!-- /bench:peers -->\n\nAfter.\n"


def test_a_readme_without_the_block_is_left_alone_with_one_line(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n<!-- bench:engine -->\n")
    with pytest.raises(
        SystemExit, match=re.escape("no <!-- bench:engine --> ... <!-- /bench:engine --> block")
    ):
        write_block("engine", ["x"], readme)
    assert readme.read_text() == "# Title\n<!-- bench:engine -->\n"
