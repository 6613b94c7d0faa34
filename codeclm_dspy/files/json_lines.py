"""JSON and JSON Lines files: parsed only after a depth scan, with repeated keys refused.

The depth is checked on the text before parsing because Python's parser hits
the recursion limit on deep input (and pyarrow's, under HF datasets,
segfaults). A file may hold one record a line or one top-level array; either
way each record is named by the line it starts on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from codeclm_dspy.errors import CodecLMError
from codeclm_dspy.files.text import MAX_DEPTH, InputFileError, _place, _printable, check_record, read_text

_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
_SPACE = re.compile(r"[ \t\n\r]*")


def json_depth_error(text: str) -> int | None:
    """The offset where ``text`` (JSON) nests deeper than ``MAX_DEPTH``, or None.

    A scan of brackets outside strings: cheap, and it never recurses, so it
    is safe on input that would crash a parser.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    blanked = _JSON_STRING.sub(lambda m: " " * len(m.group()), text)  # offsets stay put
    depth = 0
    for match in _BRACKET.finditer(blanked):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            return match.start()
    return None


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen = set()
        repeated = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"the key '{_printable(repeated)}' appears twice in one object")
    return record


def parse_json(text: str, path: str | Path, line: int = 1, error: type[CodecLMError] = InputFileError) -> Any:
    """One JSON value read from ``path``, where ``text`` starts on ``line``."""
    deep = json_depth_error(text)
    if deep is not None:
        row, column = _place(text, deep, "\n")
        raise error(
            f"{path} line {line + row - 1}, column {column}: nested deeper than {MAX_DEPTH} levels "
            "(the limit for JSON read here)"
        )
    try:
        return json.loads(text, object_pairs_hook=_no_repeats)
    except json.JSONDecodeError as exc:
        raise error(
            f"{path} line {line + exc.lineno - 1}, column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    except (ValueError, RecursionError) as exc:  # a repeated key; an integer too long to convert
        raise error(f"{path} line {line}: not valid JSON ({exc})") from None


def json_records(
    path: str | Path, what: str, error: type[CodecLMError] = InputFileError
) -> list[tuple[str, dict]]:
    """``(where, record)`` for each object of a JSON Lines file, or of a file holding one JSON array.

    ``where`` is ``line n``, the line the record starts on. Blank lines are skipped.
    """
    path = Path(path)
    text = read_text(path, what, error)
    if text.lstrip().startswith("["):  # one array, as HF datasets reads a .json file
        items = parse_json(text, path, 1, error)
        return [
            (f"line {n}", _object(record, path, n, error))
            for n, record in zip(_array_lines(text), items, strict=True)
        ]
    return [
        (f"line {n}", _object(parse_json(line, path, n, error), path, n, error))
        for n, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    ]


def _object(record: Any, path: Path, line: int, error: type[CodecLMError]) -> dict:
    if not isinstance(record, dict):
        raise error(f"{path} line {line}: expected a JSON object, not {type(record).__name__}")
    return check_record(record, f"{path} line {line}", error)


def _array_lines(text: str) -> list[int]:
    """The line each item of a (valid) top-level JSON array starts on."""
    decoder, lines, line, seen = json.JSONDecoder(), [], 1, 0
    i = _skip_space(text, text.index("[") + 1)
    while text[i] != "]":
        line, seen = line + text.count("\n", seen, i), i
        lines.append(line)
        _, i = decoder.raw_decode(text, i)
        i = _skip_space(text, i)
        if text[i] == ",":
            i = _skip_space(text, i + 1)
    return lines


def _skip_space(text: str, i: int) -> int:
    return _SPACE.match(text, i).end()
