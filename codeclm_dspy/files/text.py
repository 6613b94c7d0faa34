"""Reading a file's text, and checking the records read from it: the part every format shares.

``read_text`` refuses what is not a readable UTF-8 text file before any parser
sees it; ``check_record`` and ``record_id`` refuse text that could not be
written back out (a lone surrogate, a control character) and ids that would
change on the way out. The JSON, CSV and YAML readers beside this module build
on these. See the package docstring for the full list of what is refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import CodecLMError

MAX_DEPTH = 64  # nesting levels of any JSON or YAML value; real records use a handful

# lone surrogates and C0/C1 control characters, except tab, newline, carriage return
_BAD_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class InputFileError(CodecLMError):
    """A file the user named cannot be read as what it should be."""

    exit_code = 2


def read_text(path: str | Path, what: str = "input file", error: type[CodecLMError] = InputFileError) -> str:
    """The file's text, decoded as UTF-8, or ``error`` naming the file and the bad place.

    Args:
        path: the file.
        what: what the file is for, as the messages say it (``seeds file``).
        error: the ``CodecLMError`` subclass to raise.
    """
    path = Path(path)
    if not path.exists():
        raise error(f"{what} not found: {path}")
    if path.is_dir():
        raise error(f"{path} is a directory, not a {what}")
    if not path.is_file():
        raise error(f"{path} is not a regular file (a {what} must be one)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _place(data, exc.start, b"\n")
        raise error(
            f"{path} line {line}, column {column}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the file as UTF-8"
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        line, column = _place(text, nul, "\n")
        raise error(f"{path} line {line}, column {column}: a NUL byte; this is not a text file")
    return text


def _place(text, offset: int, newline) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    return text.count(newline, 0, offset) + 1, offset - (text.rfind(newline, 0, offset) + 1) + 1


def text_problem(value: str) -> str | None:
    """Why ``value`` is not usable text (a lone surrogate or a control character), or None."""
    bad = _BAD_CHAR.search(value)
    if bad is None:
        return None
    kind = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
    return f"holds {kind} (U+{ord(bad.group()):04X}) at character {bad.start() + 1}"


def check_record(record: dict, where: str, error: type[CodecLMError] = InputFileError) -> dict:
    """``record`` if every string in it (keys and values, nested) is usable text.

    Raises:
        error: naming ``where`` and the field with the bad text.
    """
    stack: list[tuple[str, Any]] = [(str(k), v) for k, v in record.items()]
    for key in record:
        problem = text_problem(str(key))
        if problem:
            raise error(f"{where}: a field name {problem}")
    while stack:
        field, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise error(f"{where}: field '{_printable(field)}' {problem}")
        elif isinstance(value, dict):
            stack.extend((field, v) for v in value.values())
            stack.extend((field, k) for k in value if isinstance(k, str))
        elif isinstance(value, list):
            stack.extend((field, v) for v in value)
    return record


def record_id(record: dict, field: str, where: str, error: type[CodecLMError] = InputFileError) -> str | None:
    """The record's id as text; None when it has none (absent, null or empty).

    Raises:
        error: an id that is neither text nor an integer (a float, NaN, a
            list, ``true``): written back out, it would be something else.
    """
    value = record.get(field)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise error(
            f"{where}: the id field '{field}' must be text or an integer, not {_printable(repr(value))[:80]}"
        )
    return str(value)


def _printable(text: str) -> str:
    return _BAD_CHAR.sub("?", text)
