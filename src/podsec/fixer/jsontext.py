"""JSON edited in place: each JSON Patch operation rewrites only the text of the value it changes,
or of the member or item it adds or removes, in the style of the object or array around it (on one
line, or one member per line at that object's indentation); every other byte stays as it was."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from podsec.model.paths import PathPart

_WS = re.compile(r"[ \t\r\n]*")
_DECODER = json.JSONDecoder()


@dataclass
class _Node:
    """Where a value is in the text; for an object or array, where each child is (and its key)."""

    start: int
    end: int
    kind: str = "scalar"  # "object", "array" or "scalar"
    keys: list[str] = field(default_factory=list)
    children: list[tuple[int, _Node]] = field(default_factory=list)  # (where the member or item starts, value)

    def child(self, part: PathPart) -> tuple[int, _Node] | None:
        if self.kind == "array":
            return self.children[int(part)] if part != "-" else None
        for key, child in zip(reversed(self.keys), reversed(self.children), strict=True):  # the last one counts
            if key == str(part):
                return child
        return None


@dataclass(frozen=True)
class _Style:
    unit: str | None  # the file's indentation step; None: the file is on one line
    newline: str
    comma: str  # ", " or ","
    colon: str  # ": " or ":"


def _skip(text: str, i: int) -> int:
    found = _WS.match(text, i)
    assert found is not None
    return found.end()


def _parse(text: str, i: int) -> _Node:
    i = _skip(text, i)
    close = {"{": "}", "[": "]"}.get(text[i : i + 1])
    if close is None:
        _, end = _DECODER.raw_decode(text, i)
        return _Node(i, end)
    node = _Node(i, i, "object" if close == "}" else "array")
    i = _skip(text, i + 1)
    while not text.startswith(close, i):
        at = i
        if node.kind == "object":
            key, after = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
            node.keys.append(key)
            i = _skip(text, after) + 1  # past the colon
        value = _parse(text, i)
        node.children.append((at, value))
        i = _skip(text, value.end)
        if text.startswith(",", i):
            i = _skip(text, i + 1)
    node.end = i + 1
    return node


def _indent_at(text: str, at: int) -> str:
    """The indentation of the line ``at`` is on."""
    start = text.rfind("\n", 0, at) + 1
    return text[start : _skip_blank(text, start)]


def _skip_blank(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _style(text: str) -> _Style:
    unit = re.search(r"\n([ \t]+)\S", text)
    return _Style(
        unit.group(1) if unit else None,
        "\r\n" if "\r\n" in text else "\n",
        "," if re.search(r",[^\s]", text) else ", ",  # compact only where the file is
        ": " if re.search(r'":[ ]', text) else ":",
    )


def _render(value: Any, style: _Style, base: str | None) -> str:
    """``value`` as JSON: over lines from indentation ``base`` on, or on one line (``base`` None)."""
    if base is not None and style.unit is not None:
        body = json.dumps(value, indent=style.unit, ensure_ascii=False, separators=(",", style.colon))
        return body.replace("\n", style.newline + base)
    return json.dumps(value, ensure_ascii=False, separators=(style.comma, style.colon))


def _piece(node: _Node, part: PathPart, value: Any, style: _Style, base: str | None) -> str:
    """A new member (``"key": value``) of an object, or a new item of an array."""
    rendered = _render(value, style, base)
    return rendered if node.kind == "array" else json.dumps(str(part), ensure_ascii=False) + style.colon + rendered


def _remove(text: str, node: _Node, at: int) -> str:
    starts = [start for start, _ in node.children]
    position = starts.index(at)
    if len(starts) == 1:
        return text[: node.start + 1] + text[node.end - 1 :]
    if position + 1 < len(starts):
        return text[:at] + text[starts[position + 1] :]
    return text[: node.children[position - 1][1].end] + text[node.children[position][1].end :]


def _add(text: str, node: _Node, part: PathPart, value: Any, style: _Style) -> str:
    multiline = "\n" in text[node.start : node.end]
    if not node.children:
        if style.unit is None:
            return text[: node.start + 1] + _piece(node, part, value, style, None) + text[node.end - 1 :]
        base = _indent_at(text, node.start)
        inner = base + style.unit
        piece = _piece(node, part, value, style, inner)
        return text[: node.start + 1] + style.newline + inner + piece + style.newline + base + text[node.end - 1 :]
    end = node.children[-1][1].end
    if not multiline:
        return text[:end] + style.comma + _piece(node, part, value, style, None) + text[end:]
    inner = _indent_at(text, node.children[-1][0])
    return text[:end] + "," + style.newline + inner + _piece(node, part, value, style, inner) + text[end:]


def _apply(text: str, start: int, path: list[PathPart], op: dict[str, Any], style: _Style) -> str:
    """``text`` with ``op`` applied at ``path`` in the value that starts at ``start``."""
    node = _parse(text, start)
    for part in path[:-1]:
        found = node.child(part)
        if found is None:
            raise KeyError(part)
        node = found[1]
    target = node.child(path[-1])
    if op["op"] == "remove":
        if target is None:
            raise KeyError(path[-1])
        return _remove(text, node, target[0])
    if target is None:
        return _add(text, node, path[-1], op["value"], style)
    value = target[1]
    multiline = "\n" in text[value.start : value.end]
    rendered = _render(op["value"], style, _indent_at(text, value.start) if multiline else None)
    return text[: value.start] + rendered + text[value.end :]


def edit(text: str, ops: list[tuple[list[PathPart], dict[str, Any]]]) -> str:
    """``text`` with every (path, JSON Patch operation) applied in order."""
    return edit_objects(text, [((), ops)])


def edit_objects(text: str, objects: Sequence[tuple[Sequence[PathPart], list[tuple[list[PathPart], Any]]]]) -> str:
    """``text`` with each object's operations (paths within the object at its prefix) applied.

    The text is parsed once to find the objects; each object's operations then re-read only that
    object's own lines, so a large ``List`` costs what its parts cost, not its size per operation."""
    style = _style(text)
    root = _parse(text, 0)
    found = []
    for prefix, ops in objects:
        node = root
        for part in prefix:
            child = node.child(part)
            if child is None:
                raise KeyError(part)
            node = child[1]
        found.append((node, ops))
    found.sort(key=lambda item: item[0].start, reverse=True)  # the last first: earlier places do not move
    for (node, _), (after, _) in zip(found[1:], found, strict=False):
        if node.end > after.start:
            raise ValueError("objects that overlap")
    for node, ops in found:
        line = text.rfind("\n", 0, node.start) + 1  # the object's own first line, for its indentation
        part = text[line : node.end]
        for path, op in ops:
            part = _apply(part, node.start - line, path, op, style)
        text = text[:line] + part + text[node.end :]
    return text
