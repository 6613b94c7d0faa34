"""Reading the files a user names: one reader that says which file, and where, when one is bad.

Every file the command line reads (configs, seeds, metadata, benchmarks, search
spaces) passes through here before any parser or library sees it, so a bad
file ends in one line naming the file and the line (and column where there is
one), never in a traceback or a crash further down:

- not a regular file (missing, a directory, a device) or unreadable;
- not UTF-8 (a byte-order mark is allowed and dropped), or holding a NUL byte;
- JSON or YAML that does not parse, or that repeats a key in one object;
- nesting deeper than ``MAX_DEPTH`` levels, checked on the text *before*
  parsing: Python's parsers hit the recursion limit on deep input, and
  pyarrow's JSON reader (under HF datasets) segfaults on 100,000 levels;
- YAML aliases that contain themselves, or that expand to more than
  ``MAX_YAML_NODES`` values (an alias "bomb" built from a few lines);
- CSV with an unterminated quote, a header naming a column twice, or a row
  with more fields than the header;
- text that cannot be written back out: a lone surrogate (``"\\ud800"`` in
  JSON) or a control character other than tab, newline and carriage return.

The package splits by format: ``text`` (reading and record checks, shared by
all), ``json_lines``, ``csv_rows`` and ``yaml_docs``. Import from here.
"""

from __future__ import annotations

from codeclm_dspy.files.csv_rows import csv_records
from codeclm_dspy.files.json_lines import json_depth_error, json_records, parse_json
from codeclm_dspy.files.text import (
    MAX_DEPTH,
    InputFileError,
    check_record,
    read_text,
    record_id,
    text_problem,
)
from codeclm_dspy.files.yaml_docs import MAX_YAML_NODES, load_yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_YAML_NODES",
    "InputFileError",
    "check_record",
    "csv_records",
    "json_depth_error",
    "json_records",
    "load_yaml",
    "parse_json",
    "read_text",
    "record_id",
    "text_problem",
]
