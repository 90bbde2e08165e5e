"""`podsec fix` evaluates what `podsec scan` evaluates, the analyses beyond the pod included
(namespaces without a default-deny NetworkPolicy, policy rules open to all, PodSecurityPolicies):
it fixes none of those (it writes no NetworkPolicy, changes no policy object) and lists each as
needing a human, in its summary, its report and its exit code."""

from __future__ import annotations

import json
import pathlib
from collections import Counter
from typing import Any

import pytest

from podsec.cli import main

NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: open
  namespace: shop
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - {}
---
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata:
  name: legacy
spec:
  privileged: true
  seLinux: {rule: RunAsAny}
  runAsUser: {rule: RunAsAny}
  supplementalGroups: {rule: RunAsAny}
  fsGroup: {rule: RunAsAny}
"""

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  hostUsers: false
  containers:
  - name: web
    image: example.com/web:1.0
"""


def _key(f: dict[str, Any]) -> tuple[Any, ...]:
    o = f["object"]
    return f["file"], o["kind"], o["namespace"], o["name"], f["check"], f["field"], f["container"]


def test_findings_beyond_the_pod_need_a_human(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "m").mkdir()
    monkeypatch.chdir(tmp_path / "m")
    pathlib.Path("namespace.yaml").write_text(NAMESPACE)
    pathlib.Path("pod.yaml").write_text(POD)
    fixing = ["fix", "--write", "--unsafe", "--run-as-user", "10001", "--report", "../report.json", "."]
    assert main(fixing) == 1  # what is left needs a human
    err = capsys.readouterr().err
    assert pathlib.Path("namespace.yaml").read_text() == NAMESPACE  # not edited
    report = json.loads((tmp_path / "report.json").read_text())
    human = {(f["file"], f["check"]) for f in report["needsHuman"]}
    assert {
        ("./namespace.yaml", "defaultDenyIngress"),
        ("./namespace.yaml", "defaultDenyEgress"),
        ("./namespace.yaml", "allowAllIngress"),
        ("./namespace.yaml", "podSecurityPolicy"),
    } <= human
    assert not any(f["file"] == "./pod.yaml" for f in report["needsHuman"])  # the pod's are all fixed
    assert [f["file"] for f in report["files"]] == ["./namespace.yaml", "./pod.yaml"]  # each once
    assert "needs a human:" in err and "writes no NetworkPolicy" in err
    assert "./namespace.yaml:4  Namespace shop: defaultDenyEgress: not a pod's setting" in err
    main(["scan", "--format", "json", "."])
    rescan = json.loads(capsys.readouterr().out)
    assert Counter(_key(f) for f in rescan["findings"]) == Counter(_key(f) for f in report["needsHuman"])
    assert main(["fix", "--unsafe", "--run-as-user", "10001", "."]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "0 fixed" in err and "; 0 files to change" in err


def test_without_the_analyses_beyond_the_pod_nothing_is_left(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pathlib.Path("namespace.yaml").write_text(NAMESPACE)
    pathlib.Path("pod.yaml").write_text(POD)
    assert main(["fix", "--write", "--unsafe", "--profile", "restricted", "."]) == 0
    assert "0 need a human" in capsys.readouterr().err
