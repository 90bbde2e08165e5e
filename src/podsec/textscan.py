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

# In flow context: indicators, quoted scalars, comments, whitespace, and runs of anything else.
_FLOW_TOKEN = re.compile(
    rb"""[\[\]{},]|"(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?|\#[^\r\n]*|[ \t\r\n]+|[^\[\]{},"'#\s]+|.""", re.S
)
_PROPERTY = re.compile(rb"[&!][^\s\[\]{},]*")


def _scan_flow(text: bytes, pos: int, depth: int, end: int, deepest: list[int]) -> tuple[int, int]:
    """Scan flow content from ``pos`` (just after an opener, at ``depth``) until the flow
    context closes or ``end``; returns (position, remaining depth). ``deepest[0]`` is raised
    to the deepest flow level seen."""
    node_start = True  # a quote here starts a quoted scalar; elsewhere it is plain text
    after_space = False
    while pos < end and depth > 0:
        m = _FLOW_TOKEN.match(text, pos, end)
        assert m is not None
        tok = m.group()
        first = tok[:1]
        pos = m.end()
        if first in b"[{":
            depth += 1
            if depth > deepest[0]:
                deepest[0] = depth
            node_start, after_space = True, False
        elif first in b"]}":
            depth -= 1
            node_start, after_space = False, False
        elif first == b",":
            node_start, after_space = True, False
        elif first in b"\"'":
            if not node_start:  # inside a plain scalar: only this character
                pos = m.start() + 1
            node_start, after_space = False, False
        elif first == b"#":
            if not after_space and m.start() != 0 and text[m.start() - 1 : m.start()] not in (b"\n", b"\r"):
                pos = m.start() + 1  # "#" inside a plain scalar
            after_space = False
        elif first in b" \t\r\n":
            after_space = True
        else:
            if tok.startswith((b"?", b":")) and (len(tok) == 1):
                node_start = True
            elif _PROPERTY.fullmatch(tok):
                node_start = True  # an anchor or tag comes before the node it names
            elif tok.endswith(b":") and len(tok) > 1:
                node_start = True  # "key:" then the value
            else:
                node_start = False
            after_space = False
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


def _line_start(text: bytes, pos: int) -> int:
    return max(text.rfind(b"\n", 0, pos), text.rfind(b"\r", 0, pos)) + 1


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
    stack: list[tuple[int, bool]] = []  # (column, is_sequence) of the open block collections
    deepest = [0]
    block_above: int | None = None  # inside a block scalar: lines indented past this column

    def push(column: int, is_seq: bool) -> None:
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

    def too_deep(depth: int, at: int) -> tuple[int, int, int]:
        return depth, count_breaks(text, 0, at) + 1, at - _line_start(text, at) + 1

    n = len(text)
    pos = 0
    while pos < n:
        brk = _BREAK.search(text, pos)
        assert brk is not None
        line_end, next_line = brk.start(), max(brk.end(), brk.start() + 1)
        indent = _SPACES.match(text, pos, line_end).end()  # type: ignore[union-attr]
        if indent == line_end or text[indent] == 0x23:  # blank or comment line
            pos = next_line
            continue
        column = indent - pos
        if block_above is not None:
            if column > block_above:
                pos = next_line
                continue
            block_above = None
        if column == 0 and text.startswith((b"---", b"..."), indent) and text[indent + 3 : indent + 4] in b" \t\r\n":
            stack.clear()
            indent += 3
        else:
            while stack and stack[-1][0] > column:
                stack.pop()
        p = indent
        while True:
            while p < line_end and text[p] in b" \t":
                p += 1
            if p >= line_end or text[p] == 0x23:
                break
            col = p - _line_start(text, p)
            item = _BLOCK_ITEM.match(text, p, line_end)
            if item is not None:
                if item.group(1) != b":":
                    push(col, item.group(1) == b"-")
                    if len(stack) > limit:
                        return too_deep(len(stack), p)
                p = item.end()
                continue
            props = _PROPS.match(text, p, line_end)
            if props is not None:
                p = props.end()
                continue
            key = _QUOTED_KEY.match(text, p, line_end) or _PLAIN_KEY.match(text, p, line_end)
            if key is not None:
                push(col, False)
                if len(stack) > limit:
                    return too_deep(len(stack), p)
                p = key.end() + 1
                continue
            ch = text[p : p + 1]
            if ch in (b"[", b"{"):
                deepest[0] = 1
                end, flow = _scan_flow(text, p + 1, 1, n, deepest)
                if flows is not None and deepest[0] > flows[0]:
                    flows[0] = deepest[0]
                if deepest[0] + len(stack) > limit:
                    return too_deep(deepest[0] + len(stack), p)
                if flow > 0:
                    return None  # never closed: the parser reports that
                p = end
            elif ch in (b'"', b"'"):
                rest = (_DQ_REST if ch == b'"' else _SQ_REST).match(text, p + 1)
                if rest is None:
                    return None
                p = rest.end()
            elif ch in (b"|", b">") and _BLOCK_SCALAR.match(text, p, n):
                block_above = stack[-1][0] if stack else -1
                break
            else:
                break  # a plain scalar or an alias: nothing nests below it on this line
            if p > line_end:  # a quoted scalar or flow collection went on to a later line
                brk = _BREAK.search(text, p)
                assert brk is not None
                line_end, next_line = brk.start(), max(brk.end(), brk.start() + 1)
        pos = next_line
    return None


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
