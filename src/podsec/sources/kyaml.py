"""YAML read the way Kubernetes reads it (sigs.k8s.io/yaml on go-yaml v2).

PyYAML's libyaml loader, with the differences from Kubernetes removed:

* ``y``/``Y``/``n``/``N`` are booleans; timestamps and base-60 numbers stay strings;
  ``1e3`` is a float; ``0o644`` is an integer; a bare ``=`` is the string ``"="``;
* non-string keys become the strings Kubernetes' YAML-to-JSON conversion gives them;
* a duplicate key is an error, as in kubectl's strict decoding;
* alias expansion is bounded: a document whose aliases would expand to more than
  `MAX_EXPANDED_NODES` nodes is rejected ("billion laughs"), like go-yaml's
  "excessive aliasing" check.

Mappings and sequences come back as `PosDict`/`PosList` carrying 1-based positions.
Where libyaml rejects a document that the pure-Python loader accepts, that loader is
used for the document.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from podsec.model.paths import PosDict, PosList

MAX_EXPANDED_NODES = 1_000_000
"""Bound on the nodes a document may expand to through aliases."""

MAX_DEPTH = 1000
"""Bound on nesting. libyaml's composer in PyYAML recurses in C and crashes the process
(no exception) somewhere past 20,000 levels, so deep documents are refused first."""

# A cheap, sound trigger for the exact depth count. Every level of nesting needs a flow
# opener, more indentation (a level per column at most, two with "key:\n- item"), or a
# compact "- "/"? " indicator on the line. Below these bounds a document cannot come near
# the crash depth; the exact count (and MAX_DEPTH) applies to documents above them.
_FLOW_BOUND = 4000
_DEEP_INDENT = re.compile(rb"^[ \t]{2000}", re.MULTILINE)
_DEEP_COMPACT = re.compile(rb"(?:- ){500}")


def _may_be_deep(text: bytes) -> bool:
    return (
        text.count(b"[") + text.count(b"{") > _FLOW_BOUND
        or (b" " * 2000 in text and _DEEP_INDENT.search(text) is not None)
        or (b"- - " in text and _DEEP_COMPACT.search(text) is not None)
    )


def _check_depth(text: bytes) -> None:
    """Count nesting exactly from libyaml's events (iterative: no recursion)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    raise YamlError(
                        f"the document is nested more than {MAX_DEPTH} levels deep",
                        mark.line + 1 if mark else None,
                        mark.column + 1 if mark else None,
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return  # syntax errors are reported by the loader itself


class YamlError(Exception):
    """A document that cannot be read; ``line``/``column`` are 1-based, relative to the text."""

    def __init__(self, message: str, line: int | None, column: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.column = message, line, column


_BOOL = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$")
_BOOL_VALUES = {"y": True, "yes": True, "true": True, "on": True, "n": False, "no": False, "false": False, "off": False}
# go-yaml v2: strconv.ParseInt(s, 0, 64) after removing "_"; no base 60.
_INT = re.compile(r"^[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0[0-7_]*|[1-9][0-9_]*)$")
# go-yaml v2's yamlStyleFloat, plus .inf/.nan, after removing "_".
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


def _bool(text: str) -> bool:
    return _BOOL_VALUES[text.lower()]


def _int(text: str) -> int | float | str:
    text = text.replace("_", "")
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    try:
        if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
            return sign * int(digits, 8)
        return sign * int(digits, 0)
    except ValueError:  # "08", "09": not octal; Go then reads them as floats
        try:
            return float(text)
        except ValueError:
            return text


def _float(text: str) -> float:
    text = text.replace("_", "").lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


def _null(text: str) -> None:
    return None


def _str(text: str) -> str:
    return text


def _binary(text: str) -> str:
    """go-yaml decodes ``!!binary`` base64 into a (byte) string."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=False).decode("utf-8", "replace")
    except (ValueError, UnicodeEncodeError):
        raise ConstructorError(None, None, "!!binary value contains invalid base64 data") from None


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SCALARS: dict[str, Callable[[str], Any]] = {
    _STR_TAG: _str,
    "tag:yaml.org,2002:null": _null,
    "tag:yaml.org,2002:bool": _bool,
    "tag:yaml.org,2002:int": _int,
    "tag:yaml.org,2002:float": _float,
    "tag:yaml.org,2002:timestamp": _str,
    "tag:yaml.org,2002:value": _str,
    "tag:yaml.org,2002:binary": _binary,
}


def _scalar_constructor(convert: Callable[[str], Any]) -> Callable[[Any, ScalarNode], Any]:
    def construct(loader: Any, node: ScalarNode) -> Any:
        return convert(str(loader.construct_scalar(node)))

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


def _fill_map(loader: Any, node: MappingNode, data: PosDict, construct: Callable[[Node], Any]) -> None:
    if any(key_node.tag == _MERGE_TAG for key_node, _ in node.value):
        explicit = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
        loader.flatten_mapping(node)  # merged entries first; explicit keys then override them
        first_explicit = len(node.value) - explicit
    else:
        first_explicit = 0
    lc: dict[Any, tuple[int, int]] = {}
    explicit_keys: set[Any] = set()
    for index, (key_node, value_node) in enumerate(node.value):
        if not isinstance(key_node, ScalarNode):
            raise ConstructorError(None, None, "a mapping key must be a scalar", key_node.start_mark)
        key = construct(key_node)
        if not isinstance(key, str):
            key = _key_text(key)
        mark = key_node.start_mark
        if index >= first_explicit:
            if key in explicit_keys:
                first = lc[key][0]
                raise ConstructorError(None, None, f'duplicate key "{key}" (first defined on line {first})', mark)
            explicit_keys.add(key)
        data[key] = construct(value_node)
        lc[key] = (mark.line + 1, mark.column + 1)
    data.lc = lc


def _fill_seq(node: SequenceNode, data: PosList, construct: Callable[[Node], Any]) -> None:
    data.extend(construct(child) for child in node.value)
    data.lc = [(child.start_mark.line + 1, child.start_mark.column + 1) for child in node.value]


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
    todo: list[Node] = []

    def make(node: Node) -> Any:
        if isinstance(node, ScalarNode):
            return _SCALARS.get(node.tag, _str)(node.value)
        key = id(node)
        if key in built:
            return built[key]
        obj = built[key] = PosDict() if isinstance(node, MappingNode) else PosList()
        todo.append(node)
        return obj

    document = make(root)
    while todo:
        node = todo.pop()
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
                "tag:yaml.org,2002:timestamp",
                "tag:yaml.org,2002:value",
            )
        ]
        resolvers[first] = kept
    cls.yaml_implicit_resolvers = resolvers
    cls.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("yYnNtTfFoO"))
    cls.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
    cls.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
    for tag, convert in _SCALARS.items():
        if tag not in (_STR_TAG, "tag:yaml.org,2002:null"):
            cls.add_constructor(tag, _scalar_constructor(convert))
    cls.add_constructor("tag:yaml.org,2002:map", _construct_map)
    cls.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
    for other in ("tag:yaml.org,2002:set", "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs", None):
        cls.add_constructor(other, _construct_other)


class FastLoader(yaml.CSafeLoader):
    """libyaml parsing, Kubernetes semantics."""


class PureLoader(yaml.SafeLoader):
    """The pure-Python fallback, with the same semantics."""


_configure(FastLoader)
_configure(PureLoader)


def _children(node: Node) -> list[Node]:
    if isinstance(node, ScalarNode):
        return []
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value)


def _expanded_size(root: Node, limit: int) -> int:
    """How many nodes ``root`` stands for once every alias is expanded (stops past ``limit``).

    Raises `YamlError` for an alias that refers to a node containing it.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            visiting.discard(key)
            total = 1 + sum(sizes[id(c)] for c in _children(node))
            sizes[key] = total
            if total > limit:
                return total
            continue
        if key in sizes:
            continue
        if key in visiting:
            mark = node.start_mark
            raise YamlError("an alias refers to a node that contains it", mark.line + 1, mark.column + 1)
        visiting.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


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
                size = _expanded_size(node, MAX_EXPANDED_NODES)
                if size > MAX_EXPANDED_NODES:
                    raise YamlError(
                        f"excessive aliasing: the document would expand to more than "
                        f'{MAX_EXPANDED_NODES:,} nodes (a "billion laughs" document?)',
                        node.start_mark.line + 1,
                        node.start_mark.column + 1,
                    )
            data = loader.construct_document(node) if generic else _build(loader, node)
            docs.append(Document(data, node.start_mark.line + 1))
    finally:
        loader.dispose()
    return docs


_ANCHOR = re.compile(rb"(?:^|[\s\[{,])&[^\s\[\]{},]")
_ALIAS = re.compile(rb"(?:^|[\s\[{,])\*[^\s\[\]{},]")


def load_all(text: bytes) -> list[Document]:
    """Every document in ``text``; raises `YamlError` for the first that cannot be read."""
    may_alias = _ANCHOR.search(text) is not None and _ALIAS.search(text) is not None
    if _may_be_deep(text):
        _check_depth(text)
    try:
        return _load(text, FastLoader, may_alias)
    except yaml.MarkedYAMLError as fast_error:
        if "maximum nesting depth" in str(fast_error):  # newer libyaml's own bound (1,000 levels)
            mark = fast_error.problem_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
            raise YamlError(f"the document is nested more than {MAX_DEPTH} levels deep", line, column) from None
        try:
            return _load(text, PureLoader, may_alias)
        except (yaml.YAMLError, RecursionError):  # the pure-Python parser recurses: deep input ends here
            raise _mark_error(fast_error) from None
    except yaml.YAMLError as exc:  # reader errors and the like carry no mark
        raise YamlError(str(exc), None) from None
    except RecursionError:
        raise YamlError("the document is nested too deeply", None) from None


def syntax_check(text: bytes) -> None:
    """Parse without building anything; raises `YamlError` on a syntax error."""
    try:
        yaml.CSafeLoader(text).raw_parse()
    except yaml.MarkedYAMLError as exc:
        try:  # libyaml may reject what the pure-Python parser accepts
            for _ in yaml.parse(text, Loader=yaml.SafeLoader):
                pass
        except yaml.YAMLError:
            raise _mark_error(exc) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), None) from None
