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
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import yaml

from codeclm_dspy.errors import CodecLMError

MAX_DEPTH = 64  # nesting levels of any JSON or YAML value; real records use a handful
MAX_YAML_NODES = 100_000  # values a YAML document may hold once its aliases are expanded

# lone surrogates and C0/C1 control characters, except tab, newline, carriage return
_BAD_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")
_SPACE = re.compile(r"[ \t\n\r]*")


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


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with the position of a value it cannot build (a 5,000-digit int)."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value ({exc})", node.start_mark
            ) from None


def load_yaml(path: str | Path, what: str, error: type[CodecLMError] = InputFileError) -> Any:
    """The one YAML document in ``path``, after the checks that keep parsing safe.

    Raises:
        error: unreadable file, bad YAML (line and column first), nesting
            deeper than ``MAX_DEPTH``, a key repeated in one mapping, an
            alias inside its own anchor, or more than ``MAX_YAML_NODES``
            values once aliases are expanded.
    """
    path = Path(path)
    text = read_text(path, what, error)
    try:
        _check_events(text, path, error)
        loader = _Loader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        detail = ", ".join(
            str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p
        )
        if mark is None:
            raise error(f"{path}: not valid YAML ({detail or exc})") from None
        raise error(
            f"{path} line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {detail}"
        ) from None


def _check_events(text: str, path: Path, error: type[CodecLMError]) -> None:
    """Walk the parser's events (which never recurse) and refuse what would hurt later.

    Each open collection is a frame ``[anchor, size at its start, tallest child, keys seen or None,
    next is a key]``; ``anchors`` holds each finished anchor's expanded size and height.
    """
    frames: list[list] = []
    anchors: dict[str, tuple[int, int]] = {}
    size = 0

    def fail(event, message: str):
        mark = event.start_mark
        return error(f"{path} line {mark.line + 1}, column {mark.column + 1}: {message}")

    def child(event, height: int) -> None:
        if not frames:
            return
        parent = frames[-1]
        parent[2] = max(parent[2], height)
        if parent[3] is not None:  # a mapping: keys and values alternate
            if parent[4] and isinstance(event, yaml.ScalarEvent) and event.value != "<<":
                if event.value in parent[3]:
                    raise fail(event, f"the key '{_printable(event.value)}' appears twice in one mapping")
                parent[3].add(event.value)
            parent[4] = not parent[4]

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            child(event, 0)
            size += 1
            keys = set() if isinstance(event, yaml.MappingStartEvent) else None
            frames.append([event.anchor, size, 0, keys, True])
            if len(frames) > MAX_DEPTH:
                raise fail(event, f"nested deeper than {MAX_DEPTH} levels (the limit for YAML read here)")
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, start, tallest, _, _ = frames.pop()
            if anchor is not None:
                anchors[anchor] = (size - start + 1, tallest + 1)
            if frames:
                frames[-1][2] = max(frames[-1][2], tallest + 1)
        elif isinstance(event, yaml.ScalarEvent):
            child(event, 0)
            size += 1
            if event.anchor is not None:
                anchors[event.anchor] = (1, 0)
        elif isinstance(event, yaml.AliasEvent):
            if any(frame[0] == event.anchor for frame in frames):
                raise fail(
                    event, f"the alias *{event.anchor} is inside its own anchor (a value containing itself)"
                )
            if event.anchor not in anchors:
                continue  # the composer names an undefined alias
            count, height = anchors[event.anchor]
            child(event, height)
            size += count
            if len(frames) + height > MAX_DEPTH:
                raise fail(event, f"the alias *{event.anchor} nests deeper than {MAX_DEPTH} levels")
        if size > MAX_YAML_NODES:
            raise fail(event, f"more than {MAX_YAML_NODES} values once aliases are expanded (an alias bomb?)")
