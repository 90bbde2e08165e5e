"""Writing JSON Patch operations into a file's text, changing nothing else.

YAML goes through yaml-edit (a lossless concrete syntax tree, `yaml_edit`): comments, key
order, quoting, flow style, indentation, CRLF line ends, anchors, ``---``/``...`` and a missing
final newline survive byte for byte outside the lines an edit inserts or changes. An edit that
would go through an alias (``*name``) or a merge key (``<<``) is refused: it would change
the anchor, and every other place that uses it, behind the user's back. Each edited part is
read again and must hold exactly the edited object, or nothing is written.

JSON is edited in place as well (`podsec.fixer.jsontext`): only the values, members and items an
operation changes are written, in the style around them; should that ever not read back as the
edited document, the file is written whole with its own indentation instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

import yaml_edit

from podsec import kyaml
from podsec.fixer import indent, jsontext
from podsec.model.paths import Path, PathPart

Op = dict[str, Any]


class EditError(Exception):
    """An edit the text cannot take losslessly (through an alias, a merge key)."""


def lines(text: str) -> list[str]:
    """Lines split at LF only, each with its end (CR stays in the line: CRLF files diff as such)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def parse_pointer(text: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]]


def _step(node: yaml_edit.Node | None, part: str, where: str) -> yaml_edit.Mapping | yaml_edit.Sequence:
    if node is None:
        raise EditError(f"{where}: not in the file as written (it comes from a merge key, <<)")
    if node.is_alias():
        raise EditError(f"{where}: written as an alias of an anchor shared with other places; edit it by hand")
    found: yaml_edit.Mapping | yaml_edit.Sequence | None = node.as_mapping()
    if found is None:  # (an empty mapping is falsy: compare with None)
        found = node.as_sequence()
    if found is None:
        raise EditError(f"{where}: not a mapping or a list in the file")
    return found


def _container(root: yaml_edit.Mapping | yaml_edit.Sequence, path: Sequence[str]) -> Any:
    node: yaml_edit.Mapping | yaml_edit.Sequence = root
    for i, part in enumerate(path):
        where = "/" + "/".join(path[: i + 1])
        child = node.get(part) if isinstance(node, yaml_edit.Mapping) else node.get(int(part))
        node = _step(child, part, where)
    return node


def replay(root: yaml_edit.Mapping | yaml_edit.Sequence, prefix: Path, ops: Iterable[Op]) -> None:
    """Apply ``ops`` (paths relative to the object at ``prefix`` of the document) to its tree."""
    base = [str(p) for p in prefix]
    found: dict[tuple[str, ...], Any] = {}  # parents already looked up (until a removal shifts them)
    for op in ops:
        path = [*base, *parse_pointer(op["path"])]
        key = tuple(path[:-1])
        parent = found.get(key)
        if parent is None:
            parent = found[key] = _container(root, path[:-1])
        if op["op"] == "remove":
            found.clear()
        _apply_op(parent, isinstance(parent, yaml_edit.Sequence), path[-1], op)


def edit_yaml(chunk: str, objects: Sequence[tuple[int, Path, list[Op], Any]]) -> str:
    """``chunk`` (one ``---`` part of a file) with each object's operations applied: ``objects``
    are (which non-empty document, where in it, operations, the object as it must read after)."""
    try:
        stream = yaml_edit.YamlFile.parse(chunk)
    except yaml_edit.YamlError as exc:
        raise EditError(f"the lossless YAML editor cannot read this part of the file: {exc}") from None
    docs = [d for d in stream.documents() if not d.is_empty()]
    for part, prefix, ops, _ in objects:
        if part >= len(docs):
            raise EditError("the lossless YAML editor sees other documents than the YAML reader")
        root = docs[part].as_mapping()
        if root is None:
            raise EditError("the document is not a mapping in the file")
        try:
            replay(root, prefix, ops)
        except (yaml_edit.YamlError, KeyError, IndexError, ValueError) as exc:
            raise EditError(f"the lossless YAML editor refused an edit: {exc}") from None
    text = str(stream)
    followed = "".join(indent.follow(lines(chunk), lines(text)))  # inserted blocks indented as the file's own
    if followed != text:
        try:
            _verify(followed, objects)
        except EditError:
            pass  # (a shape the re-indenting misjudged: yaml-edit's own indentation is kept)
        else:
            return followed
    _verify(text, objects)
    return text


def _verify(text: str, objects: Sequence[tuple[int, Path, list[Op], Any]]) -> None:
    try:
        docs = [d.data for d in kyaml.load_all(text.encode("utf-8")) if d.data is not None]
    except kyaml.YamlError as exc:
        raise EditError(f"the edited text does not read as YAML: {exc.message}") from None
    for part, prefix, _, expected in objects:
        got: Any = docs[part] if part < len(docs) else None
        for p in prefix:
            got = got[p] if got is not None else None
        if got != expected:
            raise EditError(
                "an edit here would change another value too (such as a block scalar at the end of a file "
                "without a final newline); edit it by hand"
            )


_INDENT = re.compile(r"\n([ \t]+)\S")


def apply_to_data(root: Any, prefix: Path, ops: Iterable[Op]) -> None:
    """Apply ``ops`` to plain data (a JSON document) at ``prefix``."""
    for op in ops:
        path: list[PathPart] = [*prefix, *parse_pointer(op["path"])]
        node = root
        for part in path[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        _apply_op(node, isinstance(node, list), path[-1], op)


def _apply_op(parent: Any, sequence: bool, last: PathPart, op: Op) -> None:
    """One operation on its parent: a list or sequence (``sequence``), else a mapping; plain data and
    yaml-edit's tree take them alike."""
    if sequence:
        if op["op"] == "add" and last == "-":
            parent.append(op["value"])
        elif op["op"] == "remove":
            del parent[int(last)]
        else:
            parent[int(last)] = op["value"]
    elif op["op"] == "remove":
        del parent[last]
    else:
        parent[last] = op["value"]


def edit_json(text: str, objects: Sequence[tuple[Path, list[Op]]]) -> str:
    """The JSON document with the operations applied: edited in place, else written whole with its
    own indentation."""
    data = json.loads(text)
    for prefix, ops in objects:
        apply_to_data(data, prefix, ops)
    try:
        edited = jsontext.edit_objects(
            text, [(prefix, [(list(parse_pointer(op["path"])), op) for op in ops]) for prefix, ops in objects]
        )
        if json.loads(edited) == data:
            return edited
    except (ValueError, LookupError, RecursionError):
        pass
    return _dumped(text, data)


def _dumped(text: str, data: Any) -> str:
    """``data`` written whole with the indentation, line ends and surrounding space of ``text``."""
    found = _INDENT.search(text)
    indent: str | None = found.group(1) if found else None
    newline = "\r\n" if "\r\n" in text else "\n"
    body = json.dumps(data, indent=indent, ensure_ascii=False, separators=(",", ": ") if indent else (",", ":"))
    if text.lstrip().startswith(("{", "[")) and indent is None and ", " in text:
        body = json.dumps(data, ensure_ascii=False)
    tail = text[len(text.rstrip()) :]
    head = text[: len(text) - len(text.lstrip())]
    return head + body.replace("\n", newline) + tail
