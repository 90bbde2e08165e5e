"""YAML read the way Kubernetes reads it (sigs.k8s.io/yaml on go-yaml v2).

PyYAML's libyaml loader, with the differences from Kubernetes removed:

* ``y``/``Y``/``n``/``N`` are booleans; timestamps and base-60 numbers stay strings;
  ``1e3`` is a float; ``0o644`` is an integer; a bare ``=`` is the string ``"="``;
* non-string keys become the strings Kubernetes' YAML-to-JSON conversion gives them;
* a duplicate key is an error, as in kubectl's strict decoding;
* a tag whose text cannot hold its type (``!!float x``) is an error, as in go-yaml;
  integers beyond 64 bits and floats beyond float64 stay strings, as in go-yaml;
* alias expansion is bounded as go-yaml bounds it ("excessive aliasing": the share of a
  document that comes from aliases), and so are the containers aliases may multiply;
* nesting deeper than `MAX_DEPTH` is refused from a linear scan of the text, before any
  parser sees it.

Mappings and sequences come back as `PosDict`/`PosList` carrying 1-based positions.
Where libyaml rejects a document that the pure-Python loader accepts, that loader is
used for the document (with an iterative composer, and only for documents whose flow
nesting keeps its cost linear).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from podsec import textscan
from podsec.model.paths import PosDict, PosList

MAX_EXPANDED_NODES = 1_000_000
"""Bound on the nodes a document may expand to through aliases, whatever their share."""

MAX_ALIASED_CONTAINERS = 1_000
"""Bound on the containers a document may hold through aliases (each costs an evaluation)."""

MAX_DEPTH = 1000
"""Bound on nesting, checked on the text before parsing (libyaml's composer recurses in C)."""

MAX_FALLBACK_FLOW = 64
"""The pure-Python parser is tried after libyaml only up to this flow depth: its cost grows
with flow depth times length."""

# A cheap trigger for the exact depth scan. Every level of nesting needs a flow opener, a
# new indentation column (two levels at most per column: "key:\n- item"), or a compact
# "- "/"? " indicator on the line. Flow nesting is estimated by counting brackets, quoted
# or not; brackets in scalars could make that estimate low, so past `_CRASH_SAFE` openers
# the exact scan runs anyway (libyaml's recursive composer is safe far beyond that), and
# documents are built with a depth check of their own (`_build`).
_FLOW_BOUND = 200
_CRASH_SAFE = 10_000
_BRACKETS = re.compile(rb"[\[\]{}]")
_DEEP_INDENT = re.compile(rb"^[ \t]{200}", re.MULTILINE)
_DEEP_COMPACT = re.compile(rb"(?:[-?][ \t]+){50}")
_COMPACT_START = (re.compile(rb"-[ \t]+[-?][ \t]+[-?][ \t]"), re.compile(rb"\?[ \t]+[-?][ \t]+[-?][ \t]"))


def _bracket_depth(text: bytes) -> int:
    depth = deepest = 0
    for m in _BRACKETS.finditer(text):
        if m.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
        elif depth:
            depth -= 1
    return deepest


def _may_be_deep(text: bytes) -> bool:
    if len(text) <= _FLOW_BOUND:
        return False  # every level of nesting takes a byte at least
    openers = text.count(b"[") + text.count(b"{")
    return (
        openers > _CRASH_SAFE
        or (openers > _FLOW_BOUND and _bracket_depth(text) > _FLOW_BOUND)
        or (b" " * 200 in text and _DEEP_INDENT.search(text) is not None)
        or (
            (_COMPACT_START[0].search(text) is not None or _COMPACT_START[1].search(text) is not None)
            and _DEEP_COMPACT.search(text) is not None
        )
    )


def _check_depth(text: bytes) -> None:
    if _may_be_deep(text):
        deep = textscan.nesting_depth(text, MAX_DEPTH)
        if deep is not None:
            raise YamlError(f"the document is nested more than {MAX_DEPTH} levels deep", deep[1], deep[2])


class YamlError(Exception):
    """A document that cannot be read; ``line``/``column`` are 1-based, relative to the text."""

    def __init__(self, message: str, line: int | None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


class _BadScalar(ValueError):
    """A scalar whose text cannot hold its type."""


_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
_BOOL_VALUES = {"y": True, "yes": True, "true": True, "on": True, "n": False, "no": False, "false": False, "off": False}
# go-yaml v2: strconv.ParseInt(s, 0, 64) after removing "_"; no base 60.
_INT = re.compile(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0[0-7_]*|[1-9][0-9_]*)$")
# go-yaml v2's yamlStyleFloat, plus .inf/.nan, after removing "_".
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$"
)
_INT_MIN, _UINT_MAX = -(2**63), 2**64 - 1


_WORDS = frozenset(
    w
    for word in ("y", "yes", "n", "no", "true", "false", "on", "off", "null")
    for w in (word, word.title(), word.upper())
)


def plain_is_string(text: str) -> bool:
    """Whether a plain (unquoted) scalar reads as a string, not a bool, number or null."""
    if text[:1].isalpha():
        return text not in _WORDS
    return not (_BOOL.match(text) or _INT.match(text) or _FLOAT.match(text) or _NULL.match(text) or text == "<<")


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _bad(text: str, tag: str) -> _BadScalar:
    return _BadScalar(f"cannot decode !!str `{_shown(text)}` as a !!{tag}")


def _bool(text: str) -> bool:
    return _BOOL_VALUES[text.lower()]


def _parse_int(text: str) -> int | None:
    """go-yaml's strconv.ParseInt/ParseUint(s, 0, 64); None when it fails (never a huge int)."""
    plain = text.replace("_", "")
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    if len(digits) > 66:  # "0b" and 64 binary digits: anything longer is out of range
        return None
    try:
        if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
            value = sign * int(digits, 8)
        else:
            value = sign * int(digits, 0)
    except ValueError:  # "08", "09": not octal
        return None
    return value if _INT_MIN <= value <= _UINT_MAX else None


def _finite_float(text: str) -> float | None:
    """go-yaml's strconv.ParseFloat: None when out of float64's range."""
    value = float(text.replace("_", ""))
    return value if math.isfinite(value) else None


def _int(text: str) -> int | float | str:
    """An implicit integer: out of 64 bits it is read as go-yaml reads it (a float, else a string)."""
    value = _parse_int(text)
    if value is not None:
        return value
    if _FLOAT.match(text):
        as_float = _finite_float(text)
        if as_float is not None:
            return as_float
    return text


def _float(text: str) -> float | str:
    """An implicit float; beyond float64's range it stays a string, as in go-yaml."""
    lowered = text.replace("_", "").lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    value = _finite_float(text)
    return text if value is None else value


def _explicit_int(text: str) -> int:
    value = _parse_int(text) if _INT.match(text) else None
    if value is None:
        raise _bad(text, "int")
    return value


def _explicit_float(text: str) -> float:
    if _INT.match(text):
        value = _parse_int(text)
        if value is not None:
            return float(value)
    if not _FLOAT.match(text):
        raise _bad(text, "float")
    result = _float(text)
    if isinstance(result, str):
        raise _bad(text, "float")
    return result


def _explicit_bool(text: str) -> bool:
    if not _BOOL.match(text):
        raise _bad(text, "bool")
    return _bool(text)


def _explicit_null(text: str) -> None:
    if not _NULL.match(text):
        raise _bad(text, "null")


def _explicit_timestamp(text: str) -> str:
    if not _TIMESTAMP.match(text):
        raise _bad(text, "timestamp")
    return text


def _null(text: str) -> None:
    return None


def _str(text: str) -> str:
    return text


def _binary(text: str) -> str:
    """go-yaml decodes ``!!binary`` base64 into a (byte) string."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=False).decode("utf-8", "replace")
    except (ValueError, UnicodeEncodeError):
        raise _BadScalar("!!binary value contains invalid base64 data") from None


# Implicitly resolved scalars get podsec's own tags, so that an explicit ``!!int`` (which
# must hold an integer) and a plain ``123456…`` (which go-yaml reads leniently) differ.
_IMPLICIT = "tag:podsec.io,2024:"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SCALARS: dict[str, Callable[[str], Any]] = {
    _STR_TAG: _str,
    _IMPLICIT + "null": _null,
    _IMPLICIT + "bool": _bool,
    _IMPLICIT + "int": _int,
    _IMPLICIT + "float": _float,
    "tag:yaml.org,2002:null": _explicit_null,
    "tag:yaml.org,2002:bool": _explicit_bool,
    "tag:yaml.org,2002:int": _explicit_int,
    "tag:yaml.org,2002:float": _explicit_float,
    "tag:yaml.org,2002:timestamp": _explicit_timestamp,
    "tag:yaml.org,2002:value": _str,
    "tag:yaml.org,2002:binary": _binary,
}


_STRICT = frozenset({_explicit_null, _explicit_bool, _explicit_int, _explicit_float, _explicit_timestamp, _binary})
"""The converters that may refuse their text (explicit tags); the others never raise."""


def _scalar(node: ScalarNode) -> Any:
    try:
        return _SCALARS.get(node.tag, _str)(node.value)
    except _BadScalar as exc:
        mark = node.start_mark
        raise YamlError(str(exc), mark.line + 1, mark.column + 1) from None


def _scalar_constructor(convert: Callable[[str], Any]) -> Callable[[Any, ScalarNode], Any]:
    def construct(loader: Any, node: ScalarNode) -> Any:
        return _scalar(ScalarNode(node.tag, str(loader.construct_scalar(node)), node.start_mark, node.end_mark))

    return construct


def _key_text(key: object) -> str:
    """The JSON key Kubernetes' YAML-to-JSON gives a non-string key."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


_MERGE_TAG = "tag:yaml.org,2002:merge"


def _semantic_error(message: str, node: Node) -> YamlError:
    mark = node.start_mark
    return YamlError(message, mark.line + 1, mark.column + 1)


def _flatten(loader: Any, node: MappingNode) -> None:
    """PyYAML's merge-key flattening, which recurses once per merged mapping."""
    try:
        loader.flatten_mapping(node)
    except ConstructorError as exc:
        raise _mark_error(exc) from None
    except RecursionError:
        raise _semantic_error("merge keys (<<) nested too deeply", node) from None


def _fill_map(loader: Any, node: MappingNode, data: PosDict, construct: Callable[[Node], Any]) -> None:
    lc: dict[Any, tuple[int, int]] = {}
    for key_node, value_node in node.value:  # the common case: no merge key (<<)
        if key_node.__class__ is not ScalarNode and not isinstance(key_node, ScalarNode):
            raise _semantic_error("a mapping key must be a scalar", key_node)
        tag = key_node.tag
        if tag == _STR_TAG:
            key = key_node.value
        elif tag == _MERGE_TAG:
            data.clear()
            return _fill_merged(loader, node, data, construct)
        else:
            key = construct(key_node)
            if not isinstance(key, str):
                key = _key_text(key)
        if key in lc:
            raise _semantic_error(f'duplicate key "{_shown(key)}" (first defined on line {lc[key][0]})', key_node)
        if value_node.__class__ is ScalarNode and value_node.tag == _STR_TAG:
            data[key] = value_node.value
        else:
            data[key] = construct(value_node)
        mark = key_node.start_mark
        lc[key] = (mark.line + 1, mark.column + 1)
    data.lc = lc
    return None


def _fill_merged(loader: Any, node: MappingNode, data: PosDict, construct: Callable[[Node], Any]) -> None:
    """A mapping with merge keys: merged entries first, explicit keys then override them."""
    explicit = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
    _flatten(loader, node)
    first_explicit = len(node.value) - explicit
    lc: dict[Any, tuple[int, int]] = {}
    explicit_keys: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        if not isinstance(key_node, ScalarNode):
            raise _semantic_error("a mapping key must be a scalar", key_node)
        key = construct(key_node)
        if not isinstance(key, str):
            key = _key_text(key)
        mark = key_node.start_mark
        if index >= first_explicit:
            if key in explicit_keys:
                first = lc[key][0]
                raise _semantic_error(f'duplicate key "{_shown(key)}" (first defined on line {first})', key_node)
            explicit_keys.add(key)
        data[key] = construct(value_node)
        lc[key] = (mark.line + 1, mark.column + 1)
    data.lc = lc


def _fill_seq(node: SequenceNode, data: PosList, construct: Callable[[Node], Any]) -> None:
    lc = []
    for child in node.value:
        if child.__class__ is ScalarNode and child.tag == _STR_TAG:
            data.append(child.value)  # a string: as it is
        else:
            data.append(construct(child))
        mark = child.start_mark
        lc.append((mark.line + 1, mark.column + 1))
    data.lc = lc


def _construct_map(loader: Any, node: MappingNode) -> Iterator[PosDict]:
    data = PosDict()
    yield data
    _fill_map(loader, node, data, lambda n: loader.construct_object(n, deep=False))


def _construct_seq(loader: Any, node: SequenceNode) -> Iterator[PosList]:
    data = PosList()
    yield data
    _fill_seq(node, data, lambda n: loader.construct_object(n, deep=False))


def _construct_other(loader: Any, node: Node) -> Any:
    """Any other tag (``!Ref``, ``!!set``, ``!!omap`` ...): go-yaml v2 ignores it and
    reads the node by its shape, so a tagged scalar is its text."""
    if isinstance(node, MappingNode):
        return _construct_map(loader, node)
    if isinstance(node, SequenceNode):
        return _construct_seq(loader, node)
    return str(node.value)


def _build(loader: Any, root: Node) -> Any:
    """The document under ``root``, exactly as the constructors here build it.

    PyYAML's generic construction (a generator and several dict look-ups per node) costs
    more than libyaml's parsing; this walks the node graph once, iteratively (no depth
    limit). Shared (aliased) nodes give shared objects, as in PyYAML.
    """
    built: dict[int, Any] = {}
    todo: list[tuple[Node, int]] = []
    depth = 1

    def make(node: Node) -> Any:
        if isinstance(node, ScalarNode):
            convert = _SCALARS.get(node.tag, _str)
            return _scalar(node) if convert in _STRICT else convert(node.value)
        key = id(node)
        if key in built:
            return built[key]
        if depth > MAX_DEPTH:
            raise _semantic_error(f"the document is nested more than {MAX_DEPTH} levels deep", node)
        obj = built[key] = PosDict() if isinstance(node, MappingNode) else PosList()
        todo.append((node, depth + 1))
        return obj

    document = make(root)
    while todo:
        node, depth = todo.pop()
        if isinstance(node, MappingNode):
            _fill_map(loader, node, built[id(node)], make)
        else:
            assert isinstance(node, SequenceNode)
            _fill_seq(node, built[id(node)], make)
    return document


def _configure(cls: Any) -> None:
    resolvers: dict[Any, list[tuple[str, Any]]] = {}
    for first, entries in cls.yaml_implicit_resolvers.items():
        kept = [
            (tag, regexp)
            for tag, regexp in entries
            if tag
            not in (
                "tag:yaml.org,2002:bool",
                "tag:yaml.org,2002:int",
                "tag:yaml.org,2002:float",
                "tag:yaml.org,2002:null",
                "tag:yaml.org,2002:timestamp",
                "tag:yaml.org,2002:value",
            )
        ]
        resolvers[first] = kept
    cls.yaml_implicit_resolvers = resolvers
    cls.add_implicit_resolver(_IMPLICIT + "bool", _BOOL, list("yYnNtTfFoO"))
    cls.add_implicit_resolver(_IMPLICIT + "int", _INT, list("-+0123456789"))
    cls.add_implicit_resolver(_IMPLICIT + "float", _FLOAT, list("-+0123456789."))
    cls.add_implicit_resolver(_IMPLICIT + "null", _NULL, ["~", "n", "N", ""])
    for tag, convert in _SCALARS.items():
        if tag != _STR_TAG:
            cls.add_constructor(tag, _scalar_constructor(convert))
    cls.add_constructor("tag:yaml.org,2002:map", _construct_map)
    cls.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
    for other in ("tag:yaml.org,2002:set", "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs", None):
        cls.add_constructor(other, _construct_other)


_BASE_RESOLVE: Any = yaml.resolver.BaseResolver.resolve
_PLAIN_TAGS: dict[str, str] = {}
"""The tag of each plain scalar seen (it depends on the text alone): most are repeated keys."""


def _resolve(loader: Any, kind: Any, value: Any, implicit: Any) -> Any:
    """PyYAML's Resolver.resolve, with plain scalars' tags remembered (resolving a scalar
    costs PyYAML a list concatenation and regular expressions, for every scalar)."""
    if kind is ScalarNode:
        if not implicit[0]:
            return _STR_TAG  # quoted: a string (no path resolvers here)
        tag = _PLAIN_TAGS.get(value)
        if tag is None:
            tag = _BASE_RESOLVE(loader, kind, value, implicit)
            if len(value) <= 64:  # keys and short values repeat; long text rarely does
                if len(_PLAIN_TAGS) >= 10_000:
                    _PLAIN_TAGS.clear()
                _PLAIN_TAGS[value] = tag
        return tag
    return _BASE_RESOLVE(loader, kind, value, implicit)


class FastLoader(yaml.CSafeLoader):
    """libyaml parsing, Kubernetes semantics."""

    resolve = _resolve


class PureLoader(yaml.SafeLoader):
    """The pure-Python fallback, with the same semantics and a composer that does not recurse."""

    resolve = _resolve

    def compose_document(self) -> Node | None:
        loader: Any = self
        loader.get_event()  # DOCUMENT-START
        node = _compose_iteratively(loader)
        loader.get_event()  # DOCUMENT-END
        self.anchors = {}
        return node


def _compose_iteratively(loader: Any) -> Node:
    """PyYAML's Composer.compose_node, with an explicit stack instead of recursion."""
    open_nodes: list[tuple[Node, list[Node | None]]] = []  # collection, [pending key]
    while True:
        node: Node
        if loader.check_event(AliasEvent):
            event = loader.get_event()
            if event.anchor not in loader.anchors:
                raise yaml.composer.ComposerError(
                    None, None, f"found undefined alias {event.anchor!r}", event.start_mark
                )
            node = loader.anchors[event.anchor]
        elif loader.check_event(SequenceEndEvent, MappingEndEvent):
            end = loader.get_event()
            node = open_nodes.pop()[0]
            node.end_mark = end.end_mark
        else:
            event = loader.peek_event()
            anchor = event.anchor
            if anchor is not None and anchor in loader.anchors:
                raise yaml.composer.ComposerError(
                    f"found duplicate anchor {anchor!r}; first occurrence",
                    loader.anchors[anchor].start_mark,
                    "second occurrence",
                    event.start_mark,
                )
            if loader.check_event(ScalarEvent):
                node = loader.compose_scalar_node(anchor)
            else:
                start = loader.get_event()
                kind: Any = SequenceNode if isinstance(start, SequenceStartEvent) else MappingNode
                tag = start.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(kind, None, start.implicit)
                collection = kind(tag, [], start.start_mark, None, flow_style=start.flow_style)
                if anchor is not None:
                    loader.anchors[anchor] = collection
                open_nodes.append((collection, [None]))
                continue
        if not open_nodes:
            return node
        parent, pending = open_nodes[-1]
        if isinstance(parent, SequenceNode):
            parent.value.append(node)
        elif pending[0] is None:
            pending[0] = node
        else:
            parent.value.append((pending[0], node))
            pending[0] = None


_configure(FastLoader)
_configure(PureLoader)

# go-yaml v2 and v3's decoder (sigs.k8s.io/yaml): once more than 1,000 nodes and 100 alias
# expansions have been decoded, fail when the share of decodes that come from aliases
# exceeds 99% (up to 400,000 decodes), sliding to 10% at 4,000,000.
_ALIAS_LOW, _ALIAS_HIGH = 400_000, 4_000_000
_CONTAINER_KEYS = frozenset({"containers", "initContainers", "ephemeralContainers", "sidecars"})


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _ALIAS_LOW:
        return 0.99
    if decodes >= _ALIAS_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_LOW) / (_ALIAS_HIGH - _ALIAS_LOW)


def _children(node: Node) -> list[Node]:
    if isinstance(node, ScalarNode):
        return []
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value)


def _holds_containers(key: Node, value: Node) -> bool:
    return isinstance(key, ScalarNode) and key.value in _CONTAINER_KEYS and isinstance(value, SequenceNode)


def _expansions(root: Node) -> tuple[dict[int, int], dict[int, int]]:
    """For every collection under ``root``: how many nodes it stands for once every alias
    is expanded, and how many containers (items of a ``containers`` list and the like) it
    holds then. Raises `YamlError` once a size passes `MAX_EXPANDED_NODES`, or for an alias
    that refers to a node containing it.
    """
    sizes: dict[int, int] = {}
    held: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            visiting.discard(key)
            sizes[key] = total = 1 + sum(sizes[id(c)] for c in _children(node))
            containers = sum(held[id(c)] for c in _children(node))
            if isinstance(node, MappingNode):
                containers += sum(len(v.value) for k, v in node.value if _holds_containers(k, v))
            held[key] = containers
            if total > MAX_EXPANDED_NODES:
                raise _excessive(f"the document would expand to more than {MAX_EXPANDED_NODES:,} nodes", root)
            continue
        if key in sizes:
            continue
        if isinstance(node, ScalarNode):
            sizes[key], held[key] = 1, 0
            continue
        if key in visiting:
            raise _semantic_error("an alias refers to a node that contains it", node)
        visiting.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes, held


def _excessive(what: str, root: Node) -> YamlError:
    return _semantic_error(f'excessive aliasing: {what} (a "billion laughs" document?)', root)


def _check_aliases(root: Node) -> None:
    """Refuse a document whose aliases expand too much, as go-yaml would, before building it.

    go-yaml counts every value it decodes, in document order, and those decoded through an
    alias; an alias's expansion is one unbroken run of aliased decodes, during which the
    aliased share only grows, so checking the share at the end of each run finds every
    document go-yaml refuses, at the cost of one pass over the document as written.
    Containers that aliases repeat are bounded too: each costs an evaluation and findings.
    """
    sizes, held = _expansions(root)
    decodes = aliased = containers = 0
    seen: set[int] = set()
    # (node, is an item of a containers list, is a containers list)
    stack: list[tuple[Node, bool, bool]] = [(root, False, False)]
    while stack:
        node, is_container, lists_containers = stack.pop()
        key = id(node)
        decodes += 1
        if key in seen:  # an alias: its whole expansion is decoded again, all of it aliased
            decodes += sizes[key]
            aliased += sizes[key]
            containers += held[key] + is_container + (len(node.value) if lists_containers else 0)
            if containers > MAX_ALIASED_CONTAINERS:
                raise _excessive(f"aliases repeat containers more than {MAX_ALIASED_CONTAINERS:,} times", root)
            if aliased > 100 and decodes > 1000 and aliased / decodes > _allowed_alias_ratio(decodes):
                raise _excessive(f"{aliased:,} of the first {decodes:,} values come from aliases", root)
            continue
        seen.add(key)
        if isinstance(node, SequenceNode):
            stack.extend((child, lists_containers, False) for child in reversed(node.value))
        elif isinstance(node, MappingNode):
            for key_node, value_node in reversed(node.value):
                stack.append((value_node, False, _holds_containers(key_node, value_node)))
                stack.append((key_node, False, False))


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed document; ``line`` is where it starts (1-based, relative to the text)."""

    data: Any
    line: int


def _mark_error(exc: yaml.MarkedYAMLError) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or "invalid YAML"
    if exc.context and exc.context not in problem:
        problem = f"{problem} ({exc.context})"
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return YamlError(problem, line, column)


def _load(text: bytes | str, loader_cls: Any, may_alias: bool, *, generic: bool = False) -> list[Document]:
    """Parse and construct every document; ``generic`` uses PyYAML's own construction."""
    loader = loader_cls(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if may_alias:
                _check_aliases(node)
            data = loader.construct_document(node) if generic else _build(loader, node)
            docs.append(Document(data, node.start_mark.line + 1))
    finally:
        loader.dispose()
    return docs


_ANCHOR = re.compile(rb"&([0-9A-Za-z_-]+)")  # libyaml's anchor characters
_ALIAS = re.compile(rb"\*([0-9A-Za-z_-]+)")
# Errors the pure-Python parser must not be given a second chance at: it would accept
# what libyaml (and go-yaml) rightly refuse.
_FINAL = ("invalid Unicode character escape code", "control characters are not allowed")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\\U0000[dD][89a-fA-F]")


def _names(pattern: re.Pattern[bytes], text: bytes) -> set[bytes]:
    """The names of the anchors (``&a``) or aliases (``*a``) that may start a node in ``text``."""
    return {m.group(1) for m in pattern.finditer(text) if m.start() == 0 or text[m.start() - 1] in b" \t\r\n[{,"}


def may_alias(text: bytes) -> bool:
    """Whether ``text`` may use an alias of an anchor it defines (cheap, conservative)."""
    if b"&" not in text or b"*" not in text:
        return False
    aliases = _names(_ALIAS, text)
    return bool(aliases) and not aliases.isdisjoint(_names(_ANCHOR, text))


def load_all(text: bytes) -> list[Document]:
    """Every document in ``text``; raises `YamlError` for the first that cannot be read."""
    _check_depth(text)
    aliases = may_alias(text)
    try:
        return _load(text, FastLoader, aliases)
    except yaml.MarkedYAMLError as fast_error:
        first = _mark_error(fast_error)
    except yaml.YAMLError as exc:  # reader errors and the like carry no mark
        raise YamlError(str(exc), None) from None
    if any(reason in first.message for reason in _FINAL) or _SURROGATE_ESCAPE.search(text):
        raise first
    if text.count(b"[") + text.count(b"{") > MAX_FALLBACK_FLOW and textscan.flow_depth(text) > MAX_FALLBACK_FLOW:
        raise first
    try:
        return _load(text, PureLoader, aliases)
    except (yaml.YAMLError, YamlError, RecursionError):
        raise first from None


def check_stream(text: bytes) -> None:
    """Parse without building objects (libyaml's parser in C), refusing what `load_all`
    refuses before building: syntax errors, excessive depth, excessive aliasing."""
    _check_depth(text)
    if may_alias(text):  # composing is needed to see what aliases expand to
        load_all(text)
        return
    try:
        yaml.CSafeLoader(text).raw_parse()
    except yaml.MarkedYAMLError:
        load_all(text)  # the same verdict (and fallback) as a full read
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), None) from None


syntax_check = check_stream
