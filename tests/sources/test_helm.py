"""Rendered Helm output: each finding names its template and, where the chart is on disk, the
values.yaml key the value comes from (or the mapping a missing key belongs in)."""

from __future__ import annotations

import io
import json
import pathlib
import shutil

import pytest

from podsec.cli import main

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "helm"


def test_values_keys_of_rendered_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(DATA)  # helm template ./shop | podsec scan -, from the chart's parent directory
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((DATA / "rendered.yaml").read_bytes())))
    assert main(["scan", "--profile", "restricted", "--format", "json", "-"]) == 1
    doc = json.loads(capsys.readouterr().out)
    got = {f["check"]: (f["template"], f.get("values")) for f in doc["findings"]}
    assert got["hostNamespaces"] == (
        "shop/templates/agent.yaml",
        {
            "file": "shop/values.yaml",
            "key": "agent.hostNetwork",
            "line": 9,
        },  # hostNetwork: {{ .Values.agent.hostNetwork }}
    )
    assert got["privileged"][1] == {
        "file": "shop/values.yaml",
        "key": "securityContext.privileged",
        "line": 5,
    }  # toYaml
    # a missing field: the key to add, at the line of the mapping it belongs in
    assert got["allowPrivilegeEscalation"][1] == {
        "file": "shop/values.yaml",
        "key": "securityContext.allowPrivilegeEscalation",
        "line": 4,
    }


def test_without_the_chart_only_the_template_is_named(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(DATA / "rendered.yaml", tmp_path / "rendered.yaml")
    main(["scan", "--profile", "baseline", "--format", "json", str(tmp_path / "rendered.yaml")])
    doc = json.loads(capsys.readouterr().out)
    assert {f["template"] for f in doc["findings"]} == {"shop/templates/agent.yaml"}
    assert all("values" not in f for f in doc["findings"])


def test_values_in_text_and_sarif(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(DATA)
    sarif = tmp_path / "out.sarif"
    main(["scan", "--profile", "baseline", "-o", "text", "-o", f"sarif={sarif}", "rendered.yaml"])
    assert "values: securityContext.privileged (shop/values.yaml:5)" in capsys.readouterr().out
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    privileged = next(r for r in results if r["ruleId"] == "privileged")
    related = privileged["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"] == "shop/values.yaml" and related["region"]["startLine"] == 5


def test_a_field_the_template_writes_itself_has_no_values_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(DATA)
    main(["scan", "--profile", "hardened", "--format", "json", "rendered.yaml"])
    got = {f["check"]: f.get("values") for f in json.loads(capsys.readouterr().out)["findings"]}
    # the pod spec is the template's own mapping: its first line (hostNetwork: {{ .Values.agent.hostNetwork }})
    # does not make agent.hostNetwork the place to add automountServiceAccountToken
    assert got["automountServiceAccountToken"] is None and got["userNamespace"] is None
    assert got["privileged"] == {"file": "shop/values.yaml", "key": "securityContext.privileged", "line": 5}


def test_chart_files_given_by_name_are_left_out_as_a_directory_scan_leaves_them(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(DATA / "shop", tmp_path / "charts" / "shop")
    monkeypatch.chdir(tmp_path)
    # pre-commit passes a changed template, values.yaml or Chart.yaml by name
    files = ["charts/shop/templates/agent.yaml", "charts/shop/values.yaml", "charts/shop/Chart.yaml"]
    code = main(["scan", "--format", "json", *files])
    out, err = capsys.readouterr()
    assert code == 0 and json.loads(out)["errors"] == []
    assert "charts/shop/templates/agent.yaml (and 2 more) is in the Helm chart charts/shop" in err
    assert "helm template NAME charts/shop | podsec scan -" in err
