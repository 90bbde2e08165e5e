"""Lines and columns of findings across file layouts."""

from __future__ import annotations

import json

from podsec import pipeline
from podsec.model.paths import format_path
from tests.helpers import context

CTX = context("baseline")

POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: app
    image: x
    securityContext:
      privileged: true
"""


def located(data: str | bytes) -> list[tuple[str, str, int | None, int | None, str]]:
    raw = data.encode() if isinstance(data, str) else data
    result = pipeline.scan_bytes(raw, "f.yaml", CTX)
    assert result.errors == [], result.errors
    return [(f.object.name or "", f.check.id, f.line, f.column, f.location) for o in result.objects for f in o.findings]


def test_multi_document_lines() -> None:
    text = (
        "# leading comment\n"
        + POD.format(name="a")
        + "---\n"
        + POD.format(name="b")
        + "---\n---\n"
        + POD.format(name="c")
    )
    assert located(text) == [
        ("a", "privileged", 11, 7, "field"),
        ("b", "privileged", 22, 7, "field"),
        ("c", "privileged", 34, 7, "field"),
    ]


def test_crlf_lines() -> None:
    text = (POD.format(name="a") + "---\n" + POD.format(name="b")).replace("\n", "\r\n")
    assert located(text) == [("a", "privileged", 10, 7, "field"), ("b", "privileged", 21, 7, "field")]


def test_json_file() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "j"},
        "spec": {"containers": [{"name": "app", "securityContext": {"privileged": True}}]},
    }
    text = json.dumps(obj, indent=2)
    line = text.splitlines().index('          "privileged": true') + 1
    assert located(text) == [("j", "privileged", line, 11, "field")]


def test_flow_style_on_one_line() -> None:
    text = "{apiVersion: v1, kind: Pod, metadata: {name: f}, spec: {containers: [{name: app, securityContext: {privileged: true}}]}}\n"
    assert located(text) == [("f", "privileged", 1, text.index("privileged") + 1, "field")]


def test_list_items() -> None:
    items = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        "- " + POD.format(name=n).replace("\n", "\n  ").rstrip() + "\n" for n in ("p1", "p2")
    )
    assert located(items) == [("p1", "privileged", 13, 9, "field"), ("p2", "privileged", 23, 9, "field")]
    result = pipeline.scan_bytes(items.encode(), "l.yaml", CTX)
    assert [o.line for o in result.objects] == [4, 14]


def test_missing_field_points_at_the_mapping_it_belongs_in() -> None:
    ctx = context("restricted")
    text = POD.format(name="m").replace("      privileged: true\n", "      runAsNonRoot: true\n")
    result = pipeline.scan_bytes(text.encode(), "m.yaml", ctx)
    got = {(f.check.id, format_path(f.field)): (f.line, f.location) for o in result.objects for f in o.findings}
    # the container has a securityContext: point at it; a pod without one: point at the container
    assert got[("allowPrivilegeEscalation", "spec.containers[0].securityContext.allowPrivilegeEscalation")] == (
        9,
        "parent",
    )
    assert got[("seccompProfile_restricted", "spec.containers[0].securityContext.seccompProfile.type")] == (9, "parent")
    bare = POD.format(name="bare").replace("    securityContext:\n      privileged: true\n", "")
    result = pipeline.scan_bytes(bare.encode(), "n.yaml", ctx)
    lines = {f.line for o in result.objects for f in o.findings}
    assert lines == {7}  # "- name: app"
