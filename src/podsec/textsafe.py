"""Text that is safe to show: no control characters reach a terminal raw, and no report
(text, JSON, XML, HTML, YAML) is made malformed by what a manifest contains.

Pure string functions, shared by the reporters and ``podsec explain``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# C0 and C1 controls, DEL, line and paragraph separators, bidirectional overrides and
# isolates ("Trojan Source"), BOM, interlinear annotations, non-characters, lone surrogates.
_CONTROLS = "\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb\ufffe\uffff\ud800-\udfff"
_UNSAFE_TEXT = re.compile(f"[\x00-\x1f{_CONTROLS}]")
_UNSAFE_JSON = re.compile(f"[{_CONTROLS}]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control or invisible formatting character written as an escape
    (``\\x01``, ``\\u202e``); unchanged (and not copied) when there is none."""
    if _UNSAFE_TEXT.search(text) is None:
        return text
    return _UNSAFE_TEXT.sub(_escape, text)


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def json_dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` with readable UTF-8, but C1 controls, DEL, line separators, bidi
    controls and lone surrogates as ``\\uXXXX`` escapes (JSON escapes C0 itself), so the
    text is valid UTF-8 and harmless on a terminal. The JSON value is unchanged."""
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    if _UNSAFE_JSON.search(text) is None:
        return text
    return _UNSAFE_JSON.sub(_json_escape, text)


def json_pretty(value: Any) -> str:
    """Indented JSON (two spaces), as `json_dumps` makes it safe; orjson writes it, since the
    standard library's indenting encoder is pure Python and cost more than a scan."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    except (orjson.JSONEncodeError, TypeError):  # e.g. an integer beyond 64 bits
        return json_dumps(value, indent=2)
    if _UNSAFE_JSON.search(text) is None:
        return text
    return _UNSAFE_JSON.sub(_json_escape, text)


def display_path(path: str) -> str:
    """A file name as reports show it: bytes that are not UTF-8 (kept by the OS as
    surrogate escapes) become ``\\xNN``."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return path
