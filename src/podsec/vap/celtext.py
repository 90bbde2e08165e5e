"""Token-level rewriting of CEL source, so that cel-cpp runs what Kubernetes' cel-go runs.

Three things Kubernetes' CEL environment has cannot be declared in cel-cpp as they are:

* lists' ``indexOf``/``lastIndexOf`` share their names with the strings extension's, and
  cel-cpp refuses a second declaration of a function; the calls are renamed to one
  function (same length names, ``_ndexOf``/``_astIndexOf``) that serves both receivers;
* functions returning optional values (``format.named``, ``<Format>.validate``) cannot be
  implemented in Python: they return a list of zero or one element instead, and ``[?0]``
  turns that into the optional the expression expects;
* ``variables.<name>`` is evaluated lazily, on first use and once per evaluation, as
  Kubernetes' composition does: each use becomes a call of a function ``variables.<name>``
  (an optional-typed variable is held as a list of zero or one element, and ``[?0]``
  again restores the optional).

The rewriting works on tokens (string literals, raw and bytes strings, comments and
backquoted names are skipped intact), and keeps a map from the rewritten text to the
original so that compile errors name the original line and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

INDEX_OF = {"indexOf": "_ndexOf", "lastIndexOf": "_astIndexOf"}
NOT_RUNNABLE = frozenset({"transformMap", "transformMapEntry"})
"""Functions cel-cpp declares but cannot run (its runtime lacks the map insertion they build on)."""
RESERVED = frozenset(INDEX_OF.values())
"""Names of podsec's own functions: an expression that uses them is refused (the API server knows none)."""

_TOKEN = re.compile(
    r"""
    (?P<ws>[\t\n\f\r ]+)
  | (?P<comment>//[^\n]*)
  | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|\"))
  | (?P<quoted>`[^`\n]*`)
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?|(?:[0-9]+\.[0-9]+|\.[0-9]+|[0-9]+)(?:[eE][+-]?[0-9]+)?[uU]?)
  | (?P<ident>[_a-zA-Z][_a-zA-Z0-9]*)
  | (?P<punct>\.\?|\[\?|&&|\|\||==|!=|<=|>=|.)
    """,
    re.VERBOSE | re.DOTALL,
)


class TextError(ValueError):
    """Source the rewriter cannot tokenise (an unterminated string): left to the parser to report."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    start: int
    end: int
    text: str


def _string_end(text: str, start: int, opener: str) -> int:
    prefix = opener.rstrip("'\"")
    quote = opener[len(prefix) :]
    raw = "r" in prefix.lower()
    i = start + len(opener)
    while i < len(text):
        if not raw and text[i] == "\\":
            i += 2
            continue
        if text.startswith(quote, i):
            return i + len(quote)
        if len(quote) == 1 and text[i] in "\r\n":
            break
        i += 1
    raise TextError("unterminated string")


def tokens(text: str) -> list[Token]:
    """The significant tokens of ``text`` (no whitespace or comments)."""
    out: list[Token] = []
    i = 0
    while i < len(text):
        m = _TOKEN.match(text, i)
        assert m is not None  # the last alternative matches any character
        kind = m.lastgroup or "punct"
        end = _string_end(text, i, m.group()) if kind == "string" else m.end()
        if kind not in ("ws", "comment"):
            out.append(Token(kind, i, end, text[i:end]))
        i = end
    return out


def _closing(toks: list[Token], open_index: int) -> int | None:
    """Index of the token closing the bracket at ``open_index``."""
    depth = 0
    for j in range(open_index, len(toks)):
        t = toks[j].text
        if t in ("(", "[", "{", "[?"):
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return j
    return None


@dataclass(frozen=True, slots=True)
class Rewritten:
    """An expression as cel-cpp compiles it, and the way back to the user's text."""

    original: str
    text: str
    edits: tuple[tuple[int, int, str], ...]  # (start, end, replacement) in the original, in order

    def original_offset(self, offset: int) -> int:
        """The offset in the original text of ``offset`` in the rewritten one."""
        shift = 0
        for start, end, replacement in self.edits:
            new_start = start + shift
            if offset < new_start:
                break
            if offset < new_start + len(replacement):
                return start + min(offset - new_start, max(end - start - 1, 0))
            shift += len(replacement) - (end - start)
        return offset - shift

    def error(self, message: str) -> str:
        """A compile error of the rewritten text, told about the original text."""
        if not self.edits:
            return message
        return _ERROR.sub(self._error_block, message)

    def _error_block(self, m: re.Match[str]) -> str:
        line, column, what = int(m.group(1)), int(m.group(2)), m.group(3)
        lines = self.text.split("\n")
        offset = sum(len(x) + 1 for x in lines[: line - 1]) + column - 1
        original = self.original_offset(offset)
        before = self.original[:original]
        line = before.count("\n") + 1
        column = original - (before.rfind("\n") + 1) + 1
        source = self.original.split("\n")[line - 1]
        for internal, name in INDEX_OF.items():
            what = what.replace(f"'{name}'", f"'{internal}'")
        return f"ERROR: <input>:{line}:{column}: {what}\n | {source}\n | {'.' * (column - 1)}^"


_ERROR = re.compile(r"ERROR: <input>:(\d+):(\d+): (.*)\n \| [^\n]*\n \| \.*\^")


Edit = tuple[int, int, str]
"""(start, end, replacement) in the original text."""
Step = tuple[list[Edit], int]
"""The edits a rewriting rule makes at a token, and the index of the next token to look at."""


def _text_at(toks: list[Token], i: int) -> str:
    """The text of token ``i``, "" outside the expression."""
    return toks[i].text if 0 <= i < len(toks) else ""


def _is_member(toks: list[Token], i: int) -> bool:
    """Token ``i`` follows ``.`` or ``.?``: a field or a member function."""
    return _text_at(toks, i - 1) in (".", ".?")


def _index_of_call(toks: list[Token], i: int, variables: Mapping[str, bool], formats: bool) -> Step | None:
    """``.indexOf(`` and ``.lastIndexOf(``: the one function serving lists and strings."""
    t = toks[i]
    if not (_is_member(toks, i) and t.text in INDEX_OF and _text_at(toks, i + 1) == "("):
        return None
    return [(t.start, t.end, INDEX_OF[t.text])], i + 1


def _optional_call(toks: list[Token], i: int, variables: Mapping[str, bool], formats: bool) -> Step | None:
    """``<format>.validate(...)`` and ``format.named(...)``: their list of zero or one element made optional."""
    member = _is_member(toks, i)
    if not (formats and ((member and toks[i].text == "validate") or _is_root(toks, i, "format", "named"))):
        return None
    call = i + 1 if member else i + 3
    close = _closing(toks, call) if _text_at(toks, call) == "(" else None
    if close is None:
        return [], i + 1
    return [(toks[close].end, toks[close].end, "[?0]")], i + 1


def _variable_use(toks: list[Token], i: int, variables: Mapping[str, bool], formats: bool) -> Step | None:
    """``variables.<name>`` of a declared variable: a call of the function computing it once."""
    if not (_is_root(toks, i, "variables") and toks[i + 2].text in variables):
        return None
    name = toks[i + 2]
    if _text_at(toks, i + 3) == "(":
        return [], i + 1  # not a variable: a call the checker will refuse
    if _text_at(toks, i - 1) == "(" and _text_at(toks, i - 2) == "has" and _text_at(toks, i + 3) == ")":
        # has(variables.x): a declared variable is present, but Kubernetes' lazy map computes it
        # to answer (so its error surfaces): true once x is computed
        return [(toks[i - 2].start, toks[i + 3].end, f"size([variables.{name.text}()]) == 1")], i + 4
    return [(name.end, name.end, "()[?0]" if variables[name.text] else "()")], i + 3


_RULES = (_index_of_call, _optional_call, _variable_use)
"""The rewriting rules, tried in order at each identifier: the first that applies decides."""


def rewrite(expression: str, *, variables: Mapping[str, bool], formats: bool) -> Rewritten:
    """``expression`` for cel-cpp: ``variables`` maps each declared variable to whether it is optional."""
    toks = tokens(expression)
    for t in toks:
        if t.kind == "ident" and t.text in RESERVED:
            raise TextError(f"undeclared reference to '{t.text}'")
    edits: list[Edit] = []
    i = 0
    while i < len(toks):
        step = _rewrite_at(toks, i, variables, formats) if toks[i].kind == "ident" else None
        if step is None:
            i += 1
            continue
        made, i = step
        edits += made
    return _edited(expression, edits)


def _rewrite_at(toks: list[Token], i: int, variables: Mapping[str, bool], formats: bool) -> Step | None:
    for rule in _RULES:
        step = rule(toks, i, variables, formats)
        if step is not None:
            return step
    return None


def _edited(expression: str, edits: list[Edit]) -> Rewritten:
    edits.sort(key=lambda e: (e[0], e[1]))
    pieces, last = [], 0
    for start, end, replacement in edits:
        pieces += [expression[last:start], replacement]
        last = end
    pieces.append(expression[last:])
    return Rewritten(expression, "".join(pieces), tuple(edits))


def not_runnable(expression: str) -> str | None:
    """The first function of `NOT_RUNNABLE` that ``expression`` calls, if any."""
    toks = tokens(expression)
    for i, t in enumerate(toks[1:-1], 1):
        if t.text in NOT_RUNNABLE and toks[i - 1].text in (".", ".?") and toks[i + 1].text == "(":
            return t.text
    return None


def _is_root(toks: list[Token], i: int, name: str, member: str | None = None) -> bool:
    """``name`` is an identifier of its own (not a field) followed by ``.`` (and ``member``)."""
    if toks[i].text != name or (i > 0 and toks[i - 1].text in (".", ".?")):
        return False
    if i + 2 >= len(toks) or toks[i + 1].text != "." or toks[i + 2].kind != "ident":
        return False
    return member is None or toks[i + 2].text == member
