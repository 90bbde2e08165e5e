"""One file per kind of bad input: each becomes a clear error with file and line."""

from __future__ import annotations

import pathlib

import pytest

from podsec import pipeline
from podsec.sources import files
from tests.helpers import context

BAD = pathlib.Path(__file__).resolve().parent.parent / "data" / "bad"
CTX = context("restricted")

EXPECTED = {
    "alias-bomb.yaml": (1, "excessive aliasing: the document would expand to more than 1,000,000 nodes"),
    "annotation-number.yaml": (6, "Pod p: metadata.annotations.a: expected a string, got number 1"),
    "binary.yaml": (None, "binary file (not YAML or JSON text); skipped"),
    "containers-map.yaml": (6, "Pod p: spec.containers: expected a list, got a mapping"),
    "containers-string.yaml": (
        6,
        'Pod p: spec.containers: expected a list, got string "x" (write it as a list: ["x"])',
    ),
    "deep-nesting.yaml": (6, "the document is nested more than 1000 levels deep"),
    "drop-string.yaml": (10, 'capabilities.drop: expected a list, got string "ALL" (write it as a list: ["ALL"])'),
    "duplicate-key.yaml": (5, 'duplicate key "name" (first defined on line 4)'),
    "helm-template.yaml": (12, "this looks like an unrendered Helm template; run `helm template`"),
    "latin1.yaml": (4, "not valid UTF-8 (byte 0xe9)"),
    "malformed.yaml": (9, "invalid YAML: did not find expected ',' or ']'"),
    "no-kind.yaml": (1, "not a Kubernetes object: no apiVersion and kind"),
    "run-as-user-string.yaml": (
        7,
        'spec.securityContext.runAsUser: expected an integer, got string "0" (remove the quotes)',
    ),
    "security-context-list.yaml": (8, "spec.containers[0].securityContext: expected a mapping, got a list"),
    "template-string.yaml": (6, 'Deployment d: spec.template: expected a mapping, got string "oops"'),
    "top-level-list.yaml": (1, "the document is a list, not a Kubernetes object"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_is_one_clear_error(name: str) -> None:
    result = pipeline.scan_target(files.Target(str(BAD / name), name), CTX)
    assert result.objects == []
    assert len(result.errors) == 1, result.errors
    err = result.errors[0]
    line, text = EXPECTED[name]
    assert (err.file, err.line) == (name, line)
    assert text in err.message


NOT_ERRORS = {"empty.yaml", "unknown-kind.yaml"}


def test_every_bad_file_has_an_expectation() -> None:
    on_disk = {p.name for p in BAD.iterdir()} - NOT_ERRORS
    assert on_disk == set(EXPECTED)


def test_empty_and_comment_only_files_are_not_errors(tmp_path: pathlib.Path) -> None:
    for text in (b"", b"\n\n", b"# nothing here\n", b"---\n# placeholder\n---\n", b"   \n# c\n"):
        result = pipeline.scan_bytes(text, "e.yaml", CTX)
        assert (result.objects, result.errors, result.documents) == ([], [], 0), text
    result = pipeline.scan_target(files.Target(str(BAD / "empty.yaml"), "empty.yaml"), CTX)
    assert (result.objects, result.errors) == ([], [])


def test_unknown_kind_with_a_pod_in_a_standard_shape_is_evaluated() -> None:
    result = pipeline.scan_target(files.Target(str(BAD / "unknown-kind.yaml"), "u"), CTX)
    assert result.errors == []
    [obj] = result.objects
    assert str(obj.object) == "Gizmo g"
    assert "privileged" in {f.check.id for f in obj.findings}


GOOD_POD = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: good\nspec:\n  containers:\n  - name: c\n"


@pytest.mark.parametrize("bad", sorted(n for n in EXPECTED if n not in ("binary.yaml", "latin1.yaml", "empty.yaml")))
def test_bad_document_does_not_hide_the_others(bad: str) -> None:
    data = GOOD_POD + b"---\n" + (BAD / bad).read_bytes().rstrip(b"\n") + b"\n---\n" + GOOD_POD
    result = pipeline.scan_bytes(data, "mixed.yaml", CTX)
    assert [o.object.name for o in result.objects] == ["good", "good"]
    assert len(result.errors) == 1
    assert result.errors[0].line is None or result.errors[0].line > 7
    assert result.objects[1].line == data.count(b"\n", 0, data.rindex(b"apiVersion")) + 1


def test_huge_file_is_refused(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 1000)
    big = tmp_path / "big.yaml"
    big.write_bytes(GOOD_POD * 100)
    result = pipeline.scan_target(files.Target(str(big), "big.yaml"), CTX)
    assert [e.message for e in result.errors] == ["file too large (8,000 bytes; the limit is 1,000)"]


def test_recursive_alias_is_refused() -> None:
    result = pipeline.scan_bytes(
        b"apiVersion: v1\nkind: Pod\nmetadata: &m\n  name: x\n  self: *m\nspec: {}\n", "r", CTX
    )
    assert [e.message for e in result.errors] == ["invalid YAML: an alias refers to a node that contains it"]


def test_missing_path_is_an_error() -> None:
    assert list(files.discover(["/nonexistent/podsec"])) == []
    [err] = files.missing(["/nonexistent/podsec", "-"])
    assert (err.file, err.message) == ("/nonexistent/podsec", "no such file or directory")
