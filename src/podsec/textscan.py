"""Linear scans of raw YAML/JSON text, done before (or instead of) a parser.

* `nesting_depth`: how deeply a document nests, in one pass and without recursion, so
  that excessive depth is refused before libyaml (whose composer recurses in C) or the
  pure-Python parser (quadratic in flow depth) ever see it;
* `flow_closes`: whether a flow collection opened on a line ends on that line;
* `normalize_json`: JSON strings made to mean to libyaml what they mean in JSON
  (surrogate pairs, lone surrogates, raw C1 controls and line separators);
* line breaks as YAML counts them (LF, CRLF, CR, NEL, U+2028, U+2029).
"""

from __future__ import annotations

import re
from collections.abc import Callable

BREAKS = re.compile(rb"\r\n|[\r\n]|\xc2\x85|\xe2\x80[\xa8\xa9]")
"""A line break as YAML (and libyaml) counts it."""


def unusual_breaks(data: bytes) -> bool:
    """Whether ``data`` has line breaks other than LF and CRLF (CR alone, NEL, U+2028, U+2029)."""
    if data.isascii():
        return b"\r" in data and data.count(b"\r") != data.count(b"\r\n")
    return (
        b"\xc2\x85" in data
        or b"\xe2\x80\xa8" in data
        or b"\xe2\x80\xa9" in data
        or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n"))
    )


def count_breaks(data: bytes, start: int = 0, end: int | None = None) -> int:
    """Line breaks in ``data[start:end]``, counted as libyaml counts them (CRLF is one)."""
    end = len(data) if end is None else end
    if not unusual_breaks(data):
        return data.count(b"\n", start, end)
    return sum(1 for _ in BREAKS.finditer(data, start, end))


# ---------------------------------------------------------------------------------------
# nesting depth

# In flow context, one token a group: openers, closers, commas, quoted scalars, comments,
# whitespace, plain text that starts a node ("?", an anchor or tag, "key:"), and other plain text.
_PLAIN_CHAR = rb"""[^\[\]{},"'\#\s]"""
_FLOW_TOKEN = re.compile(
    rb"""([\[{])|([\]}])|(,)|("(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?)|(\#[^\r\n]*)|([ \t\r\n]+)"""
    rb"|(\?(?!" + _PLAIN_CHAR + rb")|[&!]" + _PLAIN_CHAR + rb"*|" + _PLAIN_CHAR + rb"*:(?!" + _PLAIN_CHAR + rb"))"
    rb"|(" + _PLAIN_CHAR + rb"+|.)",
    re.S,
)
_OPEN, _CLOSE = 1, 2  # the groups of _FLOW_TOKEN that change the depth
_DEPTH_CHANGE = (0, 1, -1, 0, 0, 0, 0, 0, 0)
# The scanner's state: whether a node may start here (a quote opens a quoted scalar, rather
# than being a character of a plain one) and whether whitespace came just before (a "#"
# starts a comment, rather than being part of a plain scalar).
_MID, _MID_SPACE, _NODE, _NODE_SPACE = range(4)
# By token group, then state: (whether the whole token is read, else only its first
# character; the next state).
_STEPS = (
    (),
    ((True, _NODE),) * 4,  # [ {
    ((True, _MID),) * 4,  # ] }
    ((True, _NODE),) * 4,  # ,
    ((False, _MID), (False, _MID), (True, _MID), (True, _MID)),  # a quoted scalar only where a node starts
    ((False, _MID), (True, _MID), (False, _NODE), (True, _NODE)),  # a comment only after whitespace
    ((True, _MID_SPACE), (True, _MID_SPACE), (True, _NODE_SPACE), (True, _NODE_SPACE)),  # whitespace
    ((True, _NODE),) * 4,  # "?", "&anchor", "!tag", "key:": the node comes next
    ((True, _MID),) * 4,  # plain text
)


def _scan_flow(text: bytes, pos: int, depth: int, end: int, deepest: list[int]) -> tuple[int, int]:
    """Scan flow content from ``pos`` (just after an opener, at ``depth``) until the flow
    context closes or ``end``; returns (position, remaining depth). ``deepest[0]`` is raised
    to the deepest flow level seen."""
    state = _NODE_SPACE if pos == 0 or text[pos - 1 : pos] in (b"\n", b"\r") else _NODE
    while pos < end and depth > 0:
        m = _FLOW_TOKEN.match(text, pos, end)
        assert m is not None and m.lastindex is not None
        whole, state = _STEPS[m.lastindex][state]
        pos = m.end() if whole else m.start() + 1
        depth += _DEPTH_CHANGE[m.lastindex]
        if depth > deepest[0]:
            deepest[0] = depth
    return pos, depth


def flow_closes(line: bytes, start: int) -> bool:
    """Whether the flow collection opened at ``line[start]`` is closed on the same line."""
    deepest = [1]
    _, depth = _scan_flow(line, start + 1, 1, len(line), deepest)
    return depth == 0


_BREAK = re.compile(rb"\r\n|[\r\n]|\xc2\x85|\xe2\x80[\xa8\xa9]|$")
# Block context, at a node's start: compact indicators, properties, keys, and what the node is.
_BLOCK_ITEM = re.compile(rb"(-|\?|:)(?:[ \t]+|(?=[\r\n]|$))")
_PROPS = re.compile(rb"[&!][^\s]*(?:[ \t]+|(?=[\r\n]|$))")
_PLAIN_KEY = re.compile(
    rb"(?:[^\s\-?:,\[\]{}#&*!|>'\"%@`]|[-?:](?=\S))(?:[^\r\n:#]|:(?=\S)|(?<=\S)\#)*?:(?=[ \t\r\n]|$)"
)
_QUOTED_KEY = re.compile(rb"""(?:"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\r\n]|'')*')[ \t]*:(?=[ \t\r\n]|$)""")
_BLOCK_SCALAR = re.compile(rb"[|>][0-9+-]*[ \t]*(?:\#[^\r\n]*)?(?:[\r\n]|$)")
_SPACES = re.compile(rb" *")
_DQ_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.S)
_SQ_REST = re.compile(rb"(?:[^']|'')*'", re.S)


def _line_bounds(text: bytes, pos: int) -> tuple[int, int]:
    """Where the line that holds ``pos`` ends, and where the next one starts."""
    brk = _BREAK.search(text, pos)
    assert brk is not None
    return brk.start(), max(brk.end(), brk.start() + 1)


def flow_depth(text: bytes) -> int:
    """The deepest flow nesting in ``text`` (as `nesting_depth` counts it)."""
    flows = [0]
    nesting_depth(text, 1 << 30, flows)
    return flows[0]


def nesting_depth(text: bytes, limit: int, flows: list[int] | None = None) -> tuple[int, int, int] | None:
    """The first place where ``text`` nests more than ``limit`` collections deep, as
    (depth, 1-based line, 1-based column); None when it never does.

    One pass over the text, without recursion. The count follows YAML's structure: block
    collections by their indentation (a sequence under a mapping key may share its column)
    and compact indicators (``- - x``, ``- key: v``), flow collections by their brackets,
    skipping quoted scalars, block scalars and comments. Where the text is ambiguous it
    counts a level too many rather than one too few. ``flows[0]``, if given, is raised to
    the deepest flow nesting seen.
    """
    scan = _Nesting(text, limit)
    pos = 0
    while pos < len(text):
        pos = scan.line(pos)
    if flows is not None and scan.deepest_flow > flows[0]:
        flows[0] = scan.deepest_flow
    return scan.found


# What a node handler returns instead of the position to read on from.
_REST_OF_LINE = -1  # the rest of the line is a scalar: nothing nests below it there
_STOP = -2  # the scan is over: `_Nesting.found` says why


class _Nesting:
    """The state of one `nesting_depth` pass: the block collections open (column, whether a
    sequence), the block scalar being skipped, and the result once it is known."""

    def __init__(self, text: bytes, limit: int) -> None:
        self.text, self.limit = text, limit
        self.stack: list[tuple[int, bool]] = []
        self.block_above: int | None = None  # inside a block scalar: lines indented past this column
        self.deepest_flow = 0
        self.found: tuple[int, int, int] | None = None
        self._line_start = self._searched_to = 0  # `column`'s memory: positions only ever grow

    def line(self, pos: int) -> int:
        """Read the line that starts at ``pos``; where the next line to read starts (past the
        lines a quoted scalar or flow collection went on to, or the end when the scan is over)."""
        text = self.text
        line_end, next_line = _line_bounds(text, pos)
        indent = _SPACES.match(text, pos, line_end).end()  # type: ignore[union-attr]
        if indent == line_end or text[indent] == 0x23:  # blank or comment line
            return next_line
        column = indent - pos
        if self.block_above is not None and column > self.block_above:
            return next_line
        self.block_above = None
        if column == 0 and text.startswith((b"---", b"..."), indent) and text[indent + 3 : indent + 4] in b" \t\r\n":
            self.stack.clear()  # a document marker
            indent += 3
        else:
            self._close(column)
        return self._nodes(indent, line_end, next_line)

    def _nodes(self, p: int, line_end: int, next_line: int) -> int:
        """Read the nodes that start on a line from ``p``; as `line`."""
        text = self.text
        while True:
            while p < line_end and text[p] in b" \t":
                p += 1
            if p >= line_end or text[p] == 0x23:
                return next_line
            p = _NODE_START.get(text[p], _Nesting._plain)(self, p, line_end)
            if p < 0:
                return next_line if p == _REST_OF_LINE else len(text)
            if p > line_end:  # a quoted scalar or flow collection went on to a later line
                line_end, next_line = _line_bounds(text, p)

    # One handler per first character of a node: where reading goes on, _REST_OF_LINE or _STOP.

    def _indicator(self, p: int, line_end: int) -> int:
        """``- `` (a sequence item), ``? `` (a complex key) or ``: `` (its value), or a plain key."""
        item = _BLOCK_ITEM.match(self.text, p, line_end)
        if item is None:
            return self._plain(p, line_end)
        if self.text[p] == 0x3A:  # ":"
            return item.end()
        return self._open(p, self.text[p] == 0x2D, item.end())  # "-": a sequence

    def _properties(self, p: int, line_end: int) -> int:
        """An anchor or a tag, before the node it names."""
        props = _PROPS.match(self.text, p, line_end)
        return _REST_OF_LINE if props is None else props.end()

    def _quoted(self, p: int, line_end: int) -> int:
        """A quoted key, or a quoted scalar (skipped, whatever lines it takes)."""
        key = _QUOTED_KEY.match(self.text, p, line_end)
        if key is not None:
            return self._open(p, False, key.end())
        rest = (_DQ_REST if self.text[p] == 0x22 else _SQ_REST).match(self.text, p + 1)
        return self._stop(None) if rest is None else rest.end()  # never closed: the parser reports that

    def _flow(self, p: int, line_end: int) -> int:
        """A flow collection (skipped, whatever lines it takes), counted by its brackets."""
        deepest = [1]
        end, depth = _scan_flow(self.text, p + 1, 1, len(self.text), deepest)
        self.deepest_flow = max(self.deepest_flow, deepest[0])
        if deepest[0] + len(self.stack) > self.limit:
            return self._stop(self._too_deep(deepest[0] + len(self.stack), p))
        return self._stop(None) if depth > 0 else end  # never closed: the parser reports that

    def _block_scalar(self, p: int, line_end: int) -> int:
        """``|`` or ``>``: the lines indented past the collection it is in are its text."""
        if _BLOCK_SCALAR.match(self.text, p, len(self.text)) is not None:
            self.block_above = self.stack[-1][0] if self.stack else -1
        return _REST_OF_LINE

    def _plain(self, p: int, line_end: int) -> int:
        """A plain key, or a plain scalar or an alias (nothing nests below it on its line)."""
        key = _PLAIN_KEY.match(self.text, p, line_end)
        return _REST_OF_LINE if key is None else self._open(p, False, key.end())

    def _open(self, p: int, is_seq: bool, end: int) -> int:
        """A block collection whose first node starts at ``p``, unless one is open there already."""
        self._push(self._column(p), is_seq)
        if len(self.stack) > self.limit:
            return self._stop(self._too_deep(len(self.stack), p))
        return end

    def _push(self, column: int, is_seq: bool) -> None:
        stack = self.stack
        while stack and stack[-1][0] > column:
            stack.pop()
        if stack and stack[-1][0] == column:
            if stack[-1][1] == is_seq:
                return
            if stack[-1][1]:  # a key after an indentless sequence ends the sequence
                stack.pop()
                if stack and stack[-1][0] == column:
                    return
        stack.append((column, is_seq))

    def _close(self, column: int) -> None:
        """Close the block collections indented past ``column``."""
        stack = self.stack
        while stack and stack[-1][0] > column:
            stack.pop()

    def _column(self, p: int) -> int:
        """``p``'s 0-based column, counted from the last CR or LF; ``p`` never goes back, so
        each byte is searched once."""
        text, searched = self.text, self._searched_to
        start = max(text.rfind(b"\n", searched, p), text.rfind(b"\r", searched, p)) + 1
        if start:
            self._line_start = start
        self._searched_to = p
        return p - self._line_start

    def _too_deep(self, depth: int, at: int) -> tuple[int, int, int]:
        return depth, count_breaks(self.text, 0, at) + 1, self._column(at) + 1

    def _stop(self, found: tuple[int, int, int] | None) -> int:
        self.found = found
        return _STOP


_NODE_START: dict[int, Callable[[_Nesting, int, int], int]] = {
    **dict.fromkeys(b"-?:", _Nesting._indicator),
    **dict.fromkeys(b"&!", _Nesting._properties),
    **dict.fromkeys(b"\"'", _Nesting._quoted),
    **dict.fromkeys(b"[{", _Nesting._flow),
    **dict.fromkeys(b"|>", _Nesting._block_scalar),
}
"""The handler of a node by its first byte; `_Nesting._plain` for any other."""


# ---------------------------------------------------------------------------------------
# JSON text read by a YAML parser

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_JSON_ODD = re.compile(rb"\\u[dD][89a-fA-F]|[\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9]")
_STRING_ESCAPE = re.compile(
    rb"\\u(?P<high>[dD][89abAB][0-9a-fA-F]{2})\\u(?P<low>[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?P<lone>\\u[dD][89a-fA-F][0-9a-fA-F]{2})"
    rb"|(?P<escape>\\u[0-9a-fA-F]{4}|\\.)"
    rb"|(?P<raw>\x7f|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9])",
    re.S,
)


def looks_like_json(data: bytes) -> bool:
    """Whether the text starts like a JSON document (after whitespace and a BOM)."""
    head = data[:64].lstrip(b" \t\r\n")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip(b" \t\r\n")
    return head[:1] in (b"{", b"[")


def _fix_escape(m: re.Match[bytes]) -> bytes:
    if m.group("high") is not None:  # a UTF-16 surrogate pair: one character
        high, low = int(m.group("high"), 16), int(m.group("low"), 16)
        return b"\\U%08X" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    if m.group("lone") is not None:  # a lone surrogate: JSON decoders make it U+FFFD
        return b"\\uFFFD"
    if m.group("escape") is not None:
        return m.group()
    return b"\\u%04X" % ord(m.group().decode("utf-8"))  # a raw C1 control, DEL or line separator


def _fix_string(m: re.Match[bytes]) -> bytes:
    tok = m.group()
    if _JSON_ODD.search(tok) is None:
        return tok
    return _STRING_ESCAPE.sub(_fix_escape, tok)


def normalize_json(text: bytes) -> bytes:
    """JSON text whose strings mean to a YAML 1.1 parser what they mean in JSON.

    JSON strings may hold UTF-16 surrogate escapes (``"\\ud83d\\ude00"`` is one character;
    a lone one is read as U+FFFD, as Go and Python decoders do) and raw characters that
    YAML treats as line breaks or refuses (U+0080-U+009F, DEL, U+2028, U+2029). They
    become YAML escapes of the same characters. Text without them is returned as is.
    """
    if _JSON_ODD.search(text) is None:
        return text
    return _JSON_STRING.sub(_fix_string, text)
