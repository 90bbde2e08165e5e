"""Rego policies: both syntaxes, metadata, data.podsec, exemptions, exit codes, errors, podsec test."""

from __future__ import annotations

import json
import pathlib

import pytest

from podsec.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE_POLICIES = ROOT / "examples" / "policies"
NGINX_BAD = EXAMPLE_POLICIES / "tests" / "nginx-bad.yaml"
NGINX_GOOD = EXAMPLE_POLICIES / "tests" / "nginx-good.yaml"
MAGALIX = "magalix.advisor.podSecurity.securityContext.violation"

MAGALIX_V1 = """\
package magalix.v1

violation contains result if {
  not controller_spec.securityContext
  result := {"issue detected": true, "msg": "The securityContext for your spec has not been set."}
}

violation contains result if {
  some containers in controller_spec.containers
  not containers.securityContext
  result := {"issue detected": true, "msg": "The securityContext for your containers have not been set."}
}

controller_spec := input.spec.template.spec if {
  contains_kind(input.kind, {"StatefulSet", "DaemonSet", "Deployment", "Job"})
} else := input.spec if {
  input.kind == "Pod"
} else := input.spec.jobTemplate.spec.template.spec if {
  input.kind == "CronJob"
}

contains_kind(kind, kinds) if { kinds[_] = kind }
"""

RUN_AS_ROOT = """\
package podsec.examples.nonroot

import rego.v1

# METADATA
# title: Every container must be guaranteed non-root
# description: Uses podsec's resolved view, so pod-level settings count.
# custom:
#   id: ORG-001
#   severity: high
#   remediation: Set runAsNonRoot true on the pod or the container.
deny contains result if {
  some pod in data.podsec.pods
  some c in pod.containers
  some f in c.fields
  f.field == "runAsNonRoot"
  f.value != true
  result := {
    "msg": sprintf("container %s may run as root (runAsNonRoot is %s)", [c.name, f.source]),
    "field": sprintf("%s.securityContext.runAsNonRoot", [c.path]),
    "container": c.name,
  }
}
"""

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: ns
spec:
  securityContext:
    runAsNonRoot: true
  containers:
  - name: inherits
    image: a
  - name: overrides
    image: b
    securityContext:
      runAsNonRoot: false
"""


def write(tmp_path: pathlib.Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = main(["scan", "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out else {}), err


def policy_findings(doc: dict) -> list[dict]:  # type: ignore[type-arg]
    return [f for f in doc["findings"] if f["level"] == "policy"]


def test_the_magalix_example_finds_exactly_its_two_violations(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = scan(capsys, "--policy", str(EXAMPLE_POLICIES), str(NGINX_BAD))
    assert code == 1
    found = sorted(
        (f["check"], f["object"]["name"], f["message"], f["severity"], f["line"]) for f in policy_findings(doc)
    )
    assert found == [
        (MAGALIX, "nginx-deployment", "The securityContext for your containers have not been set.", "medium", 1),
        (MAGALIX, "nginx-deployment", "The securityContext for your spec has not been set.", "medium", 1),
    ]
    code, doc, _ = scan(capsys, "--policy", str(EXAMPLE_POLICIES / "security-context.rego"), str(NGINX_GOOD))
    assert policy_findings(doc) == []
    assert main(["scan", "--profile", "baseline", "--policy", str(EXAMPLE_POLICIES), str(NGINX_BAD)]) == 1
    text = capsys.readouterr().out
    assert f"       1  medium   {MAGALIX}: The securityContext for your spec has not been set.\n" in text


def test_an_oversized_object_is_not_fed_to_the_engine(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 40 levels of 2x aliasing stay far below the YAML alias bound per level, but this
    # document's expansion is refused by the YAML reader first: nothing reaches the engine.
    lines = [
        "apiVersion: v1",
        "kind: Pod",
        "metadata: {name: p}",
        "spec:",
        "  containers: [{name: a}]",
        "x0: &a0 [" + "y" * 1000 + "]",
    ]
    lines += [f"x{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 40)]
    pod = write(tmp_path, "big.yaml", "\n".join(lines) + "\n")
    code, doc, _ = scan(capsys, "--profile", "baseline", "--policy", str(EXAMPLE_POLICIES), pod)
    assert code == 2 and doc["findings"] == []
    assert "excessive aliasing" in doc["errors"][0]["message"]
    wide = write(
        tmp_path,
        "wide.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n"
        "x0: &a0 ["
        + ", ".join(["z" * 10000] * 100)
        + "]\n"
        + "".join(f"x{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 5)),
    )
    code, doc, _ = scan(capsys, "--profile", "baseline", "--policy", str(EXAMPLE_POLICIES), wide)
    assert code == 2 and "too large for policies" in doc["errors"][0]["message"]


def test_v1_syntax_gives_the_same_results(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "v1.rego", MAGALIX_V1)
    _, doc, _ = scan(capsys, "--policy", policy, str(NGINX_BAD))
    assert sorted(f["message"] for f in policy_findings(doc)) == [
        "The securityContext for your containers have not been set.",
        "The securityContext for your spec has not been set.",
    ]
    assert {f["check"] for f in policy_findings(doc)} == {"magalix.v1.violation"}
    _, doc, _ = scan(capsys, "--policy", policy, str(NGINX_GOOD))
    assert policy_findings(doc) == []
    code, _, err = scan(capsys, "--policy", policy, "--rego-syntax", "v0", str(NGINX_GOOD))
    assert code == 2 and "policy error" in err


def test_metadata_and_the_resolved_view(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "nonroot.rego", RUN_AS_ROOT)
    pod = write(tmp_path, "pod.yaml", POD)
    code, doc, _ = scan(capsys, "--profile", "baseline", "--fail-on", "high", "--policy", policy, pod)
    assert code == 1
    assert [(f["check"], f["severity"], f["container"], f["field"], f["line"], f["location"], f["message"]) for f in doc["findings"]] == [
        ("ORG-001", "high", "overrides", "spec.containers[1].securityContext.runAsNonRoot", 15, "field",
         "container overrides may run as root (runAsNonRoot is container)"),
    ]  # fmt: skip
    assert main(["checks", "--policy", policy]) == 0
    assert any(line.startswith("ORG-001") and "policy" in line for line in capsys.readouterr().out.splitlines())
    assert main(["checks", "show", "ORG-001", "--policy", policy]) == 0
    page = capsys.readouterr().out
    assert "Every container must be guaranteed non-root" in page
    assert "Set runAsNonRoot true on the pod or the container." in page


def test_rego_findings_can_be_exempted_and_overridden(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write(tmp_path, "nonroot.rego", RUN_AS_ROOT)
    exempt = POD.replace(
        "  namespace: ns\n",
        '  namespace: ns\n  annotations:\n    podsec.io/exempt: ORG-001\n    podsec.io/exempt-reason: "legacy image"\n',
    )
    pod = write(tmp_path, "pod.yaml", exempt)
    code, doc, _ = scan(capsys, "--profile", "baseline", "--policy", policy, pod)
    assert code == 0 and doc["findings"] == [] and [s["check"] for s in doc["suppressed"]] == ["ORG-001"]
    config = write(
        tmp_path,
        "c.yaml",
        f"policies: [{policy}]\ncheckss: 1\n".replace("checkss: 1\n", "checks:\n  severity:\n    ORG-001: low\n"),
    )
    code, doc, _ = scan(
        capsys, "--profile", "baseline", "--config", config, "--fail-on", "medium", "--no-annotation-exemptions", pod
    )
    assert code == 0 and [f["severity"] for f in doc["findings"]] == ["low"]
    bad = write(tmp_path, "bad.yaml", "checks:\n  disable: [ORG-002]\n")
    code, _, err = scan(capsys, "--config", bad, "--policy", policy, pod)
    assert code == 2 and 'no such check "ORG-002"' in err


def test_syntax_error_stops_before_scanning(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(tmp_path, "broken.rego", 'package broken\n\ndeny[msg] {\n  msg := "x"\n')
    code, doc, err = scan(capsys, "--policy", policy, str(NGINX_BAD))
    assert code == 2 and doc == {}
    assert err.startswith(f"podsec: policy error: {policy}:5:1: ")
    code, _, err = scan(capsys, "--policy", str(tmp_path / "nope.rego"), str(NGINX_BAD))
    assert code == 2 and "no such policy file or directory" in err


def test_runtime_error_is_reported_against_the_object_and_the_scan_goes_on(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write(
        tmp_path,
        "div.rego",
        'package div\n\nimport rego.v1\n\ndeny contains "boom" if { x := 1 / count(input.spec.template.spec.containers); x > 0 }\n'
        'warn contains msg if { input.kind == "Deployment"; msg := "still evaluated" }\n'
        'deny contains "zero" if { 1 / 0 }\n',
    )
    code, doc, _ = scan(capsys, "--profile", "baseline", "--policy", policy, str(NGINX_BAD))
    assert code == 2
    assert [f["message"] for f in doc["findings"]] == ["still evaluated"]
    assert len(doc["errors"]) == 1
    assert (
        "policy data.div.deny failed" in doc["errors"][0]["message"] and "divide by zero" in doc["errors"][0]["message"]
    )


def test_scope_all_shows_every_object(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = write(
        tmp_path,
        "svc.rego",
        'package svc\n\nimport rego.v1\n\ndeny contains "no NodePort" if { input.spec.type == "NodePort" }\n',
    )
    svc = write(tmp_path, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  type: NodePort\n")
    code, doc, _ = scan(capsys, "--policy", policy, svc)
    assert code == 0 and doc["findings"] == []
    code, doc, _ = scan(capsys, "--policy", policy, "--policy-scope", "all", svc)
    assert code == 1 and [(f["object"]["kind"], f["message"]) for f in doc["findings"]] == [("Service", "no NodePort")]


def test_policies_run_in_worker_processes(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(6):
        write(tmp_path, f"d{i}.yaml", NGINX_BAD.read_text())
    code, doc, _ = scan(
        capsys, "--profile", "baseline", "--jobs", "2", "--policy", str(EXAMPLE_POLICIES), str(tmp_path)
    )
    assert code == 1 and len(policy_findings(doc)) == 12


def test_podsec_test_passes_the_bundled_suite(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(EXAMPLE_POLICIES)]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 2 and "2 passed, 0 failed" in out


def test_podsec_test_reports_failures(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nginx.yaml").write_text(NGINX_BAD.read_text())
    write(
        tmp_path,
        "podsec-test.yaml",
        f"policies: [{EXAMPLE_POLICIES / 'security-context.rego'}]\ncases:\n"
        "  - name: expects too little\n    manifest: nginx.yaml\n    expect:\n"
        f"      - check: {MAGALIX}\n        message: for your spec\n"
        "  - name: expects something else\n    manifest: nginx.yaml\n    expect:\n"
        f"      - {{check: {MAGALIX}, object: Deployment/other}}\n"
        f"      - {{check: {MAGALIX}}}\n      - {{check: {MAGALIX}}}\n",
    )
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert (
        "FAIL" in out
        and "unexpected: " + MAGALIX + " on Deployment/nginx-deployment: The securityContext for your containers" in out
    )
    assert "expected, not found: {'check': '" + MAGALIX + "', 'object': 'Deployment/other'}" in out
    assert "0 passed, 2 failed" in out
    write(tmp_path, "podsec-test.yaml", "cases: 3\n")
    assert main(["test", str(tmp_path)]) == 2
    assert main(["test", str(tmp_path / "nothing-here")]) == 2
