"""What each format promises: SARIF schema and regions, fingerprints, JUnit and PolicyReport shapes,
several outputs in one run, Helm templates and kustomize origins."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import xml.etree.ElementTree as ET

import pytest
import yaml

from podsec.cli import main
from tests.conftest import SHARED
from tests.reports.conftest import DATA, Report

SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"


def sarif_results(text: str) -> list[dict]:  # type: ignore[type-arg]
    results: list[dict] = json.loads(text)["runs"][0]["results"]  # type: ignore[type-arg]
    return results


def test_sarif_is_valid_against_the_official_schema(report: Report) -> None:
    if not SCHEMA.is_file():
        pytest.skip("../shared/schemas is not available")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    for paths in (("rendered.yaml", "broken.yaml", "clean.yaml"), ("clean.yaml",), ("broken.yaml",)):
        for args in ((), ("--profile", "hardened"), ("--policy", str(DATA.parents[2] / "examples" / "policies"))):
            _, out = report("sarif", paths=paths, args=args)
            jsonschema.Draft4Validator(schema).validate(json.loads(out["sarif"]))


def test_sarif_regions_rules_and_suppressions(report: Report) -> None:
    _, out = report("sarif")
    doc = json.loads(out["sarif"])
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["privileged"]["defaultConfiguration"]["level"] == "error"
    assert by_id["privileged"]["properties"]["security-severity"] == "9.5"
    assert "Remove securityContext.privileged" in by_id["privileged"]["help"]["text"]
    assert "helpUri" not in by_id["privileged"]  # pyproject.toml names no project URL: nothing made up
    found = {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]): r for r in run["results"]}
    privileged = found[("privileged", "DaemonSet/agent/agent")]
    assert privileged["level"] == "error"
    assert privileged["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "rendered.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 55, "startColumn": 11},
    }
    assert rules[privileged["ruleIndex"]]["id"] == "privileged"
    assert privileged["properties"]["template"] == "shop/templates/agent.yaml"
    exempted = found[("runAsUser", "Deployment/shop/web/legacy")]
    assert exempted["suppressions"][0]["kind"] == "inSource"
    assert exempted["suppressions"][0]["justification"] == "legacy image runs as root until OPS-7 lands"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == DATA.as_uri() + "/"
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert note["locations"][0]["physicalLocation"]["region"] == {"startLine": 7, "startColumn": 1}


def test_sarif_fingerprints_survive_moved_lines(report: Report, tmp_path: pathlib.Path) -> None:
    _, before = report("sarif", paths=("rendered.yaml",))
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "rendered.yaml").write_text("# a new comment\n\n" + (DATA / "rendered.yaml").read_text())
    _, after = report("sarif", paths=(str(moved / "rendered.yaml"),))
    old = {r["partialFingerprints"]["podsecFinding/v2"]: r for r in sarif_results(before["sarif"])}
    new = {r["partialFingerprints"]["podsecFinding/v2"]: r for r in sarif_results(after["sarif"])}
    assert old.keys() == new.keys() and len(old) == 8  # 7 findings + 1 suppressed, all distinct
    for key, r in old.items():
        region = r["locations"][0]["physicalLocation"]["region"]
        assert new[key]["locations"][0]["physicalLocation"]["region"]["startLine"] == region["startLine"] + 2


def test_junit_has_a_case_per_object(report: Report) -> None:
    _, out = report("junit")
    root = ET.fromstring(out["junit"])
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root}
    assert set(suites) == {"rendered.yaml", "broken.yaml", "clean.yaml"}
    rendered = suites["rendered.yaml"]
    cases = {(c.get("classname"), c.get("name")): c for c in rendered}
    assert set(cases) == {("rendered.yaml", "Deployment/shop/web"), ("rendered.yaml", "DaemonSet/agent")}
    failure = cases[("rendered.yaml", "DaemonSet/agent")].find("failure")
    assert failure is not None and failure.get("type") == "critical"
    assert failure.get("message", "").startswith("6 findings (most severe: critical): privileged, ")
    lines = (failure.text or "").splitlines()
    assert lines[0] == (
        "critical privileged rendered.yaml:55:11 container 'agent' spec.template.spec.containers[0].securityContext."
        'privileged: privileged (container "agent" must not set securityContext.privileged=true)'
    )  # the most severe first
    web = cases[("rendered.yaml", "Deployment/shop/web")]
    assert "OPS-7" in (web.findtext("system-out") or "")  # the exempted runAsUser
    clean = suites["clean.yaml"][0]
    assert clean.get("name") == "Pod/tools/clean" and len(clean) == 0  # a passing test case
    assert suites["broken.yaml"].get("errors") == "1" and suites["broken.yaml"][0].find("error") is not None
    totals = {k: int(root.get(k) or 0) for k in ("tests", "failures", "errors", "skipped")}
    assert totals == {"tests": 4, "failures": 2, "errors": 1, "skipped": 0}  # 46 cases before: one per check


def test_policyreports_per_namespace_and_for_the_cluster(report: Report) -> None:
    _, out = report(
        "policyreport", args=("--policy-scope", "all", "--policy", str(DATA.parents[2] / "examples" / "policies"))
    )
    docs = list(yaml.safe_load_all(out["policyreport"]))
    by_ns = {(d["kind"], d["metadata"].get("namespace")): d for d in docs}
    assert set(by_ns) == {("PolicyReport", "default"), ("PolicyReport", "shop"), ("PolicyReport", "tools")}
    shop = by_ns[("PolicyReport", "shop")]
    assert shop["apiVersion"] == "wgpolicyk8s.io/v1alpha2"
    results = shop["results"]
    assert shop["summary"] == {
        s: sum(1 for r in results if r["result"] == s) for s in ("pass", "fail", "warn", "error", "skip")
    }
    assert shop["summary"]["skip"] == 1 and shop["summary"]["fail"] == 1  # NET_ADMIN; the Magalix rule passes
    assert any(
        r["rule"] == "magalix.advisor.podSecurity.securityContext.violation" and r["result"] == "pass" for r in results
    )
    for r in results:
        assert r["timestamp"] == {"seconds": 1795392000, "nanos": 0}
        assert r["result"] in ("pass", "fail", "warn", "error", "skip")
        assert r["severity"] in ("critical", "high", "medium", "low", "info")
        assert r["resources"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop"}]
    failing = {r["rule"]: r for r in results if r["result"] == "fail"}
    assert failing["capabilities_restricted"]["properties"]["container"] == "web"
    agent = by_ns[("PolicyReport", "default")]
    assert all(r["properties"]["namespace"] == "unspecified" for r in agent["results"])


def test_cluster_scoped_objects_get_a_cluster_policy_report(report: Report, tmp_path: pathlib.Path) -> None:
    policy = tmp_path / "ns.rego"
    policy.write_text('package ns\n\nimport rego.v1\n\ndeny contains "label me" if { input.kind == "Namespace" }\n')
    ns = tmp_path / "ns.yaml"
    ns.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
    _, out = report("policyreport", paths=(str(ns),), args=("--policy-scope", "all", "--policy", str(policy)))
    (doc,) = yaml.safe_load_all(out["policyreport"])
    assert doc["kind"] == "ClusterPolicyReport" and "namespace" not in doc["metadata"]
    assert [(r["rule"], r["result"], r["message"]) for r in doc["results"]] == [("ns.deny", "fail", "label me")]


def test_several_outputs_in_one_run(report: Report) -> None:
    code, out = report("json", "sarif", "junit", "html", "policyreport", "text")
    assert code == 2
    assert json.loads(out["json"])["summary"]["findings"] == len(sarif_results(out["sarif"])) - 1
    assert "7 findings" in out["text"] and "<!DOCTYPE html>" in out["html"]


def test_output_option_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "-o", "pdf=x.pdf", str(DATA / "clean.yaml")]) == 2
    assert "unknown format 'pdf'" in capsys.readouterr().err
    assert main(["scan", "-o", "json", "-o", "text", str(DATA / "clean.yaml")]) == 2
    assert "only one report can go to standard output" in capsys.readouterr().err
    assert main(["scan", "-o", "sarif=", str(DATA / "clean.yaml")]) == 2


def test_fail_on_is_independent_of_the_format(report: Report) -> None:
    code, _ = report("sarif", paths=("rendered.yaml",), args=("--fail-on", "critical"))
    assert code == 1
    code, _ = report("junit", paths=("clean.yaml",), args=("--fail-on", "info"))
    assert code == 0


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_directory_points_at_its_sources(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "app"
    base.mkdir()
    source = (DATA / "rendered.yaml").read_text().split("---\n# Source: shop/templates/agent.yaml\n")[1]
    (base / "deployment.yaml").write_text(source)
    (base / "kustomization.yaml").write_text("resources: [deployment.yaml]\nnamespace: ops\n")
    code = main(["scan", "--profile", "baseline", "--format", "json", "-k", str(base)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    priv = next(f for f in doc["findings"] if f["check"] == "privileged")
    lines = source.splitlines()
    assert priv["file"] == str(base / "deployment.yaml") and priv["template"] == str(base / "kustomization.yaml")
    assert lines[priv["line"] - 1].strip() == "privileged: true"
    assert priv["object"]["namespace"] == "ops"


def test_kustomize_without_kubectl_is_a_clear_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    (tmp_path / "kustomization.yaml").write_text("resources: []\n")
    code = main(["scan", "--format", "json", "-k", str(tmp_path)])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2
    assert "rendering Kustomize needs kubectl on the PATH" in doc["errors"][0]["message"]


def test_helm_template_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--profile", "baseline", "--format", "json", str(DATA / "rendered.yaml")]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert {(f["object"]["name"], f["template"]) for f in doc["findings"]} == {
        ("agent", "shop/templates/agent.yaml"),
        ("web", "shop/templates/web.yaml"),  # NET_ADMIN is beyond baseline too
    }
    assert os.path.basename(doc["findings"][0]["file"]) == "rendered.yaml"


def test_progress_line_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from podsec.cli import Progress
    from podsec.findings import Summary

    quiet = Progress(enabled=False)
    quiet.update(Summary(files=3))
    assert capsys.readouterr().err == ""
    bar = Progress(enabled=True)
    bar._start -= 1.0  # a scan that has run for a second
    bar.update(Summary(files=1200, objects=300, findings=45, errors=1))
    bar.done()
    err = capsys.readouterr().err
    assert "podsec: 1,200 files, 300 workloads, 45 findings, 1 errors" in err and err.endswith("\r\x1b[K")
