"""YAML files (configs, search spaces): one document, walked as events before it is built.

PyYAML builds a document recursively and expands every alias, so deep nesting
or an alias "bomb" of a few lines would crash or exhaust memory. The parser's
events never recurse: walking them first refuses nesting deeper than
``MAX_DEPTH``, aliases inside their own anchor, more than ``MAX_YAML_NODES``
expanded values and a key repeated in one mapping, before anything is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from codeclm_dspy.errors import CodecLMError
from codeclm_dspy.files.text import MAX_DEPTH, InputFileError, _printable, read_text

MAX_YAML_NODES = 100_000  # values a YAML document may hold once its aliases are expanded


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
