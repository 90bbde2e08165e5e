"""YAML read the way Kubernetes reads it (research/deps.md §1.5)."""

from __future__ import annotations

import math
import pathlib

import pytest

from podsec import kyaml


def value(text: str) -> object:
    [doc] = kyaml.load_all(f"v: {text}\n".encode())
    return doc.data["v"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("y", True),
        ("Y", True),
        ("n", False),
        ("N", False),
        ("yes", True),
        ("on", True),
        ("off", False),
        ("NO", False),
        ("0644", 420),
        ("0o644", 420),
        ("0x1F", 31),
        ("1_000", 1000),
        ("-12", -12),
        ("0", 0),
        ("1e3", 1000.0),
        ("1.0e3", 1000.0),
        ("1.5", 1.5),
        ("08", 8.0),
        ("10:30", "10:30"),
        ("2024-01-01", "2024-01-01"),
        ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
        ("=", "="),
        ("~", None),
        ("null", None),
        ('"0"', "0"),
        ("'yes'", "yes"),
        ("true", True),
    ],
)
def test_scalars_match_kubernetes(text: str, expected: object) -> None:
    got = value(text)
    assert got == expected and type(got) is type(expected)


def test_special_floats() -> None:
    assert value(".inf") == math.inf and value("-.Inf") == -math.inf and math.isnan(value(".nan"))  # type: ignore[arg-type]


def test_non_string_keys_become_kubernetes_strings() -> None:
    [doc] = kyaml.load_all(b"y: 1\noff: 2\n3: 3\nnull: 4\n")
    assert doc.data == {"true": 1, "false": 2, "3": 3, "null": 4}
    with pytest.raises(kyaml.YamlError, match='duplicate key "true"'):
        kyaml.load_all(b"y: 1\non: 2\n")


def test_duplicate_keys_rejected_but_merge_overrides_allowed() -> None:
    with pytest.raises(kyaml.YamlError, match='duplicate key "a"'):
        kyaml.load_all(b"a: 1\nb: 2\na: 3\n")
    [doc] = kyaml.load_all(b"base: &b {p: 1, q: 2}\nobj:\n  <<: *b\n  q: 3\n")
    assert doc.data["obj"] == {"p": 1, "q": 3}


def test_positions_for_keys_and_items() -> None:
    [doc] = kyaml.load_all(b"a:\n  b: 1\nlist:\n- x\n-   y\n")
    assert doc.data.lc == {"a": (1, 1), "list": (3, 1)}
    assert doc.data["a"].lc == {"b": (2, 3)}
    assert doc.data["list"].lc == [(4, 3), (5, 5)]


def test_multiple_documents_and_start_lines() -> None:
    docs = kyaml.load_all(b"a: 1\n---\n# c\nb: 2\n...\n---\nc: 3\n")
    assert [(d.data, d.line) for d in docs] == [({"a": 1}, 1), ({"b": 2}, 4), ({"c": 3}, 7)]


def test_flow_style_with_trailing_commas_like_kubectl() -> None:
    [doc] = kyaml.load_all(b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x",},}\n')
    assert doc.data["metadata"]["name"] == "x"


def test_syntax_error_has_position() -> None:
    with pytest.raises(kyaml.YamlError) as info:
        kyaml.load_all(b"a: 1\nb: [\n")
    assert info.value.line == 3


def test_syntax_check_without_objects() -> None:
    kyaml.syntax_check(b"a: [1, 2]\n---\nb: c\n")
    with pytest.raises(kyaml.YamlError):
        kyaml.syntax_check(b"a: b: c\n")


def same(a: object, b: object) -> bool:
    """Equal values, equal types and equal recorded positions, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return (
            getattr(a, "lc", None) == getattr(b, "lc", None) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
        )
    if isinstance(a, list):
        assert isinstance(b, list)
        return getattr(a, "lc", None) == getattr(b, "lc", None) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


TRICKY = """\
custom: [!Ref name, !GetAtt {a: b}, !Sub [x]]
base: &base {a: 1, b: [x, {c: 2}]}
merged:
  <<: *base
  b: 3
again: *base
tags: [!!str 1, !!int "2", !!float "3", !!binary aGk=, !!null "", =, 2001-12-14, 1:20]
set: !!set {x, y}
omap: !!omap [{a: 1}, {b: 2}]
nested: [[[[{deep: [1, 2, {k: v}]}]]]]
"""


def test_fast_construction_equals_pyyaml_generic_construction() -> None:
    fast = kyaml._load(TRICKY.encode(), kyaml.FastLoader, True)
    generic = kyaml._load(TRICKY.encode(), kyaml.PureLoader, True, generic=True)
    assert len(fast) == len(generic) == 1
    assert same(fast[0].data, generic[0].data)
    assert fast[0].data["again"] is fast[0].data["base"]  # aliases share, as in PyYAML


def test_fast_construction_equals_generic_on_the_corpus(corpus: pathlib.Path) -> None:
    checked = 0
    for path in sorted(corpus.rglob("*.y*ml")):
        text = path.read_bytes()
        try:
            generic = kyaml._load(text, kyaml.FastLoader, True, generic=True)
        except Exception:
            continue  # broken files are covered elsewhere
        fast = kyaml._load(text, kyaml.FastLoader, True)
        assert [d.line for d in fast] == [d.line for d in generic], path
        assert all(same(f.data, g.data) for f, g in zip(fast, generic, strict=True)), path
        checked += 1
    assert checked > 5000
