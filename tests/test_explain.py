"""podsec explain: every field, its effective value, and where it came from."""

from __future__ import annotations

import json
import pathlib

import pytest

from podsec.cli import main

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def explain_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["explain", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def fields(rows: list[dict]) -> dict[str, tuple]:  # type: ignore[type-arg]
    return {r["field"]: (r["value"], r["source"], r["line"]) for r in rows}


def test_sources_and_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = explain_json(capsys, str(EXAMPLES / "workloads" / "deployment.yaml"))
    assert code == 0 and doc["errors"] == []
    (obj,) = doc["objects"]
    assert obj["object"] == {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"}
    (pod,) = obj["pods"]
    assert fields(pod["fields"])["runAsNonRoot"] == (True, "pod", 18)
    assert fields(pod["fields"])["hostNetwork"] == (None, "unset", None)
    migrate, web, metrics = pod["containers"]
    assert (migrate["name"], migrate["kind"], migrate["line"]) == ("migrate", "initContainers", 22)
    m = fields(migrate["fields"])
    assert m["runAsNonRoot"] == (True, "pod", 18)  # inherited
    assert m["seccompProfile"] == ({"type": "RuntimeDefault"}, "pod", 19)
    assert m["allowPrivilegeEscalation"] == (None, "unset", None)
    assert fields(web["fields"])["capabilities"] == ({"drop": ["ALL"], "add": ["NET_ADMIN"]}, "container", 31)
    assert fields(metrics["fields"])["runAsUser"] == (0, "container", 37)
    unset = next(r for r in migrate["fields"] if r["field"] == "runAsUser")
    assert unset["note"] == "runtime default applies: root (UID 0) unless the image sets USER"


def test_container_value_overrides_pod_value(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  securityContext:\n    runAsUser: 1000\n"
        "  containers:\n  - name: a\n    securityContext:\n      runAsUser: 2000\n  - name: b\n"
    )
    code, doc = explain_json(capsys, str(path))
    assert code == 0
    a, b = doc["objects"][0]["pods"][0]["containers"]
    assert fields(a["fields"])["runAsUser"] == (2000, "container", 11)
    assert fields(b["fields"])["runAsUser"] == (1000, "pod", 7)


def test_text_says_where_each_value_came_from(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(EXAMPLES / "workloads" / "deployment.yaml")]) == 0
    out = capsys.readouterr().out
    assert "  Deployment shop/web (line 2)\n" in out
    assert "    init container migrate (line 22)\n" in out
    lines = out.splitlines()
    assert any(
        line.split()[:2] == ["runAsNonRoot", "true"] and line.endswith("inherited from pod, line 18") for line in lines
    )
    assert any(line.split()[:2] == ["runAsNonRoot", "true"] and line.endswith("pod, line 18") for line in lines)
    assert any(
        line.endswith("unset — runtime default applies: root (UID 0) unless the image sets USER") for line in lines
    )


def test_bad_input_is_an_error_with_exit_2(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers: x\n")
    code, doc = explain_json(capsys, str(bad), str(tmp_path / "missing.yaml"))
    assert code == 2
    assert [e["line"] for e in doc["errors"]] == [None, 6]
    assert "spec.containers: expected a list" in doc["errors"][1]["message"]
