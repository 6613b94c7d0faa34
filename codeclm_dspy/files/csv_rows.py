"""CSV files with a header row: each row a record, named by the line it starts on.

Left to itself, Python's csv module reads past an unterminated quote, and a
``DictReader`` lets a repeated column or surplus cells pass without a word;
here each is an error naming the line, and every cell passes the same text
checks as a JSON record's.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from codeclm_dspy.errors import CodecLMError
from codeclm_dspy.files.text import InputFileError, _printable, check_record, read_text


def csv_records(
    path: str | Path, what: str, error: type[CodecLMError] = InputFileError
) -> list[tuple[str, dict]]:
    """``(where, record)`` for each row of a CSV file with a header row.

    ``where`` is ``line n``, the line the row starts on (a quoted field may span
    lines). A row shorter than the header is padded with empty cells; a longer
    one is an error, since its extra cells would belong to no column.
    """
    path = Path(path)
    reader = csv.reader(io.StringIO(read_text(path, what, error), newline=""), strict=True)
    header, records, start = None, [], 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row:
                continue
            if header is None:
                header = _header(row, path, line, error)
                continue
            if len(row) > len(header):
                raise error(f"{path} line {line}: {len(row)} fields, but the header names only {len(header)}")
            record = dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))
            records.append((f"line {line}", check_record(record, f"{path} line {line}", error)))
    except csv.Error as exc:
        raise error(f"{path} line {start}: not valid CSV ({exc})") from None
    return records


def _header(row: list[str], path: Path, line: int, error: type[CodecLMError]) -> list[str]:
    repeated = sorted({name for name in row if row.count(name) > 1})
    if repeated:
        raise error(f"{path} line {line}: the header names the column '{_printable(repeated[0])}' twice")
    check_record(dict.fromkeys(row, ""), f"{path} line {line} (header)", error)
    return row
