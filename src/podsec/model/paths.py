"""Field paths inside an object and the source positions attached to parsed data.

Readers of YAML build `PosDict`/`PosList` values (plain `dict`/`list` to every other
consumer) whose ``lc`` attribute gives the 1-based ``(line, column)`` of each key or item.
`locate` walks a path through such data and returns the position of the deepest part
of the path that exists, so that a finding about a missing field can point at the
mapping where it belongs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mypy_extensions import mypyc_attr

from podsec.model.values import Frozen

PathPart = str | int
Path = tuple[PathPart, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@mypyc_attr(native_class=False)  # a subclass of a builtin: mypyc keeps it a Python class
class PosDict(dict[Any, Any]):
    """A dict that knows the (line, column) of each of its keys."""

    __slots__ = ("lc",)
    lc: dict[Any, tuple[int, int]]


@mypyc_attr(native_class=False)  # a subclass of a builtin: mypyc keeps it a Python class
class PosList(list[Any]):
    """A list that knows the (line, column) of each of its items."""

    __slots__ = ("lc",)
    lc: list[tuple[int, int]]


_FORMATTED: dict[Path, str] = {}


def format_path(path: Path) -> str:
    """``("spec", "containers", 0, "name")`` -> ``spec.containers[0].name``."""
    text = _FORMATTED.get(path)
    if text is None:
        if len(_FORMATTED) > 8192:  # the same few hundred paths recur in every object; bound the rest
            _FORMATTED.clear()
        text = _FORMATTED[path] = _format(path)
    return text


def _format(path: Path) -> str:
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _PLAIN_KEY.match(part):
            out.append(f".{part}" if out else part)
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'["{escaped}"]')
    return "".join(out)


_SEGMENT = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.')


def parse_path(text: str) -> Path | None:
    """The inverse of `format_path`; None when ``text`` is not such a path."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        if m is None or m.end() == pos:
            return None
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
        elif m.group(3) is not None:
            parts.append(m.group(3).replace('\\"', '"').replace("\\\\", "\\"))
        pos = m.end()
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class Position(Frozen):
    """Where a path points in its source: 1-based line and column.

    ``exact`` is true when the whole path exists; otherwise the position is that of
    the deepest existing ancestor (the mapping the missing field belongs in).
    """

    line: int
    column: int
    exact: bool


def locate(root: object, path: Path) -> Position | None:
    """Position of ``path`` in ``root``, or of its deepest existing ancestor.

    Returns None when ``root`` carries no positions (data that did not come from a
    position-aware reader) and nothing along the path does either.
    """
    found: tuple[int, int] | None = None
    node: object = root
    for part in path:
        pos: tuple[int, int] | None = None
        nxt: object = None
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            lc = getattr(node, "lc", None)
            pos = lc.get(part) if lc is not None else None
            nxt = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            lc = getattr(node, "lc", None)
            pos = lc[part] if lc is not None and part < len(lc) else None
            nxt = node[part]
        else:
            return Position(found[0], found[1], False) if found else None
        if pos is not None:
            found = pos
        node = nxt
    return Position(found[0], found[1], True) if found else None
