"""JSON edited in place: whatever the document's layout and the operation, the text reads back as
the document with the operation applied, and only the edited value's neighbourhood changes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podsec.fixer import jsontext
from podsec.fixer.text import apply_to_data

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text('ab é"\\', max_size=3))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text("abc", min_size=1, max_size=2), inner, max_size=3)
    ),
    max_leaves=8,
)
layouts = st.sampled_from(
    [
        {"indent": None},
        {"indent": None, "separators": (",", ":")},
        {"indent": 2},
        {"indent": 4},
        {"indent": "\t"},
    ]
)


def _paths(doc: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*here, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _paths(value, (*here, i))
    return found


@st.composite
def edits(draw: st.DrawFn) -> tuple[str, list[Any], dict[str, Any]]:
    doc = draw(st.dictionaries(st.text("xyz", min_size=1, max_size=2), values, min_size=1, max_size=3))
    text = json.dumps(doc, ensure_ascii=False, **draw(layouts))
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    containers = [p for p in _paths(doc) if isinstance(_at(doc, p), (dict, list))]
    where = draw(st.sampled_from(containers))
    node = _at(doc, where)
    kind = draw(st.sampled_from(["add", "replace", "remove"]))
    if isinstance(node, dict):
        keys = list(node)
        new_key = draw(st.text("xyzw", min_size=1, max_size=2))
        last: Any = draw(st.sampled_from(keys)) if keys and kind != "add" else new_key
    else:
        if kind != "add" and node:
            last = draw(st.integers(0, len(node) - 1))
        else:
            kind, last = "add", "-"
    present = (isinstance(node, dict) and last in node) or (isinstance(node, list) and bool(node))
    if kind == "remove" and not present:
        kind = "add"
    op: dict[str, Any] = {"op": kind}
    if kind != "remove":
        op["value"] = draw(values)
    return text, [*where, last], op


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@settings(max_examples=400, deadline=None)
@given(edits())
def test_an_edit_reads_back_as_the_edited_document(case: tuple[str, list[Any], dict[str, Any]]) -> None:
    text, path, op = case
    expected = copy.deepcopy(json.loads(text))
    apply_to_data(expected, (), [{**op, "path": "".join(f"/{p}" for p in path)}])
    edited = jsontext.edit(text, [(path, op)])
    assert json.loads(edited) == expected
    if "\r\n" in text:
        assert "\n" not in edited.replace("\r\n", "")


@pytest.mark.parametrize(
    ("text", "path", "op", "want"),
    [
        ('{"a": 1, "b": 2}', ["a"], {"op": "remove"}, '{"b": 2}'),
        ('{"a": 1, "b": 2}', ["b"], {"op": "remove"}, '{"a": 1}'),
        ('{"a": 1}', ["a"], {"op": "remove"}, "{}"),
        ('{\n  "a": [1,\n    2]\n}', ["a", "-"], {"op": "add", "value": 3}, '{\n  "a": [1,\n    2,\n    3]\n}'),
        ('{\n  "a": {}\n}', ["a", "k"], {"op": "add", "value": True}, '{\n  "a": {\n    "k": true\n  }\n}'),
        ('{"a": {"b": "all"}, "c": 1}', ["a", "b"], {"op": "replace", "value": "ALL"}, '{"a": {"b": "ALL"}, "c": 1}'),
    ],
)
def test_edits_change_only_what_they_edit(text: str, path: list[Any], op: dict[str, Any], want: str) -> None:
    assert jsontext.edit(text, [(path, op)]) == want


def test_each_object_of_a_list_is_edited_in_its_own_place() -> None:
    items = [{"kind": "Pod", "spec": {"a": i}} for i in range(3)]
    ops = [(["spec", "b"], {"op": "add", "value": True}), (["spec", "a"], {"op": "remove"})]
    for layout in ({"indent": 2}, {"indent": None}):
        text = json.dumps({"kind": "List", "items": items}, **layout)
        edited = jsontext.edit_objects(text, [(("items", i), ops) for i in (2, 0)])  # any order
        want = [{"kind": "Pod", "spec": {"b": True}}, items[1], {"kind": "Pod", "spec": {"b": True}}]
        assert json.loads(edited) == {"kind": "List", "items": want}
        untouched = json.dumps(items[1], **layout).replace("\n", "\n    ") if layout["indent"] else json.dumps(items[1])
        assert untouched in edited


def test_objects_that_overlap_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        jsontext.edit_objects('{"a": {"b": 1}}', [((), []), (("a",), [])])
