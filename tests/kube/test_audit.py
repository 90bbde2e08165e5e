"""``podsec audit`` against the real API server: top-level owners, templates of workloads scaled to
zero and CronJobs between runs, debug containers, namespace readiness (checked against PSA's own
``kubectl label --dry-run=server``), PSA exemptions, forbidden kinds, pagination, every output
format, and PolicyReports written back. No controller manager runs here, so the objects a
controller would make (ReplicaSets, pods, Jobs) are made explicitly, with owner references."""

from __future__ import annotations

import json
import pathlib
import xml.etree.ElementTree as ET

import pytest
import yaml

from tests.conftest import SHARED
from tests.kube import harness
from tests.kube.cluster import (
    audit,
    audit_json,
    container,
    create,
    cronjob,
    debug_container,
    deployment_chain,
    install_policyreport_crds,
    pod,
    pod_spec,
    readiness,
    reported,
    restricted,
    set_phase,
    user_kubeconfig,
    workload,
)
from tests.kube.fixtures import NamespaceFactory

PRIVILEGED = pod_spec(container("app", privileged=True))
BASELINE_ONLY = pod_spec(container("app"))  # baseline passes, restricted does not
PSA = "pod-security.kubernetes.io/"


def test_top_level_owners_templates_and_pods_that_differ(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory
) -> None:
    ns = kube_namespace()
    web, rs, pods = deployment_chain(kube, ns, "web", BASELINE_ONLY, pods=2)
    # an old revision at 0 replicas, with a template the current one fixed: not reported
    create(kube, workload("ReplicaSet", ns, "web-old", PRIVILEGED, replicas=0, owner=web, labels={"app": "web-old"}))
    create(kube, workload("Deployment", ns, "idle", PRIVILEGED, replicas=0))  # scaled to zero: its template counts
    nightly = create(kube, cronjob(ns, "nightly", BASELINE_ONLY))
    job = create(kube, workload("Job", ns, "nightly-123", BASELINE_ONLY, owner=nightly))  # same template as its CronJob
    create(kube, pod(ns, "nightly-123-x", {**BASELINE_ONLY, "restartPolicy": "Never"}, owner=job))
    create(kube, pod(ns, "bare", pod_spec(container("app", runAsUser=0))))
    finished = create(kube, pod(ns, "done", PRIVILEGED, owner=rs, labels={"app": "web"}))
    set_phase(kube, ns, finished["metadata"]["name"], "Succeeded")  # terminated: never admitted again
    debug_container(kube, ns, pods[0]["metadata"]["name"], privileged=True)  # kubectl debug --profile=sysadmin

    code, report = audit_json(kube, "-n", ns)
    assert code == 1
    assert reported(report) == {
        ("Deployment", "web"),
        ("Deployment", "idle"),
        ("CronJob", "nightly"),
        ("Pod", "bare"),
        ("Pod", pods[0]["metadata"]["name"]),  # differs from its template: the debug container
    }
    debug = [f for f in report["findings"] if f["object"]["name"] == pods[0]["metadata"]["name"]]
    assert {f["container"] for f in debug if f["check"] == "privileged"} == {"debugger"}
    assert all(f["file"].startswith(f"k8s://podsec-test/namespaces/{ns}") for f in report["findings"])
    assert all(f["line"] is None for f in report["findings"])
    counts = {r["resource"]: r for r in report["cluster"]["resources"]}
    assert counts["pods"]["read"] == 5 and counts["replicasets.apps"]["read"] == 2
    assert report["cluster"]["partial"] is False and report["errors"] == []

    r = readiness(report, ns)
    assert r["enforceable"] == "privileged"  # the idle Deployment's template and the debug pod are privileged
    blocking = {(b["object"]["kind"], b["object"]["name"]) for b in r["blockers"]["baseline"]}
    assert blocking == {("Deployment", "idle"), ("Pod", pods[0]["metadata"]["name"])}
    web_blocker = [b for b in r["blockers"]["restricted"] if b["object"]["name"] == "web"]
    assert web_blocker and web_blocker[0]["runningPods"] == 1  # the other pod is reported on its own


def test_readiness_agrees_with_psa_dry_run(kube: harness.KubeEnv, kube_namespace: NamespaceFactory) -> None:
    ready = kube_namespace({f"{PSA}warn": "restricted"})
    deployment_chain(kube, ready, "api", pod_spec(restricted()), pods=2)
    breaking = kube_namespace()
    create(kube, pod(breaking, "host", pod_spec(restricted(), hostNetwork=True)))
    create(kube, pod(breaking, "plain", BASELINE_ONLY))
    kube.kubectl("label", "namespace", breaking, f"{PSA}enforce=baseline")  # warns, and labels: PSA never evicts
    hidden = kube_namespace()
    create(kube, workload("Deployment", hidden, "batch", PRIVILEGED, replicas=0))

    code, report = audit_json(kube, "-n", ready, "-n", breaking, "-n", hidden, "--fail-on", "none")
    assert code == 0

    r = readiness(report, ready)
    assert r["enforceable"] == "restricted" and r["drift"] is True and r["blockers"]["restricted"] == []
    assert r["policy"]["warn"] == {"level": "restricted", "version": "latest"}
    assert r["command"] == (
        f"kubectl label --overwrite namespace {ready} {PSA}enforce=restricted {PSA}enforce-version={r['pinnedVersion']}"
    )
    assert yaml.safe_load(r["patch"]) == {"metadata": {"labels": {f"{PSA}enforce": "restricted",
                                                                   f"{PSA}enforce-version": r["pinnedVersion"]}}}  # fmt: skip
    args = r["command"].split()[1:]
    moved = kube.kubectl(*args, "--dry-run=server")
    assert "would violate" not in moved.stderr and "Warning" not in moved.stderr  # PSA agrees: nothing denied

    r = readiness(report, breaking)
    assert r["enforceable"] == "privileged" and r["drift"] is False
    assert [b["object"]["name"] for b in r["wouldBreak"]] == ["host"]
    assert [b["object"]["name"] for b in r["blockers"]["baseline"]] == ["host"]
    assert sorted(b["object"]["name"] for b in r["blockers"]["restricted"]) == ["host", "plain"]
    psa = kube.kubectl("label", "--overwrite", "namespace", breaking, f"{PSA}enforce=restricted", "--dry-run=server")
    for b in r["blockers"]["restricted"]:
        assert f"{b['object']['name']}: " in psa.stderr  # PSA warns about the same pods, in the same words
        assert b["reason"].split(": ", 1)[1].split(" (")[0] in psa.stderr

    r = readiness(report, hidden)  # kubectl's dry run sees no pod; the template would be denied
    assert r["enforceable"] == "privileged" and r["blockers"]["baseline"][0]["template"] is True
    assert (
        "Warning" not in kube.kubectl("label", "namespace", hidden, f"{PSA}enforce=baseline", "--dry-run=server").stderr
    )

    code, text, _ = audit(kube, "-n", ready, "-n", breaking, "-n", hidden)
    assert "Namespace readiness" in text and f"move up: kubectl label --overwrite namespace {ready}" in text
    row = next(line for line in text.splitlines() if line.strip().startswith(breaking))
    assert row.split()[1:5] == [
        "baseline:latest",
        "privileged:latest",
        "baseline:latest",
        "privileged",
    ]  # warn follows enforce


def test_psa_exemptions_from_the_admission_configuration(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, tmp_path: pathlib.Path
) -> None:
    status, body, _ = kube.request("POST", "/apis/node.k8s.io/v1/runtimeclasses",
                                   {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                                    "metadata": {"name": "kata-test"}, "handler": "kata"})  # fmt: skip
    assert status in (201, 409), body
    ns, exempt = kube_namespace(), kube_namespace()
    create(kube, pod(ns, "sandboxed", {**PRIVILEGED, "runtimeClassName": "kata-test"}))
    create(kube, pod(ns, "fine", pod_spec(restricted())))
    create(kube, pod(exempt, "anything", PRIVILEGED))
    config = tmp_path / "admission.yaml"
    config.write_text(yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration",
        "plugins": [{"name": "PodSecurity", "configuration": {
            "apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
            "defaults": {"enforce": "baseline", "enforce-version": "latest"},
            "exemptions": {"runtimeClasses": ["kata-test"], "namespaces": [exempt], "usernames": []}}}],
    }))  # fmt: skip
    _, report = audit_json(kube, "-n", ns, "-n", exempt, "--psa-config", str(config))
    r = readiness(report, ns)
    assert r["enforceable"] == "restricted" and r["policy"]["enforce"]["level"] == "baseline"  # the default
    assert [e["why"] for e in r["exempted"]] == ['runtime class "kata-test" is exempt']
    assert readiness(report, exempt)["exempt"] is True
    assert ("Pod", "sandboxed") in reported(report)  # exempt from PSA, still a finding of podsec's
    config.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n"
                      "- name: PodSecurity\n  configuration:\n    apiVersion: pod-security.admission.config.k8s.io/v1\n"
                      "    kind: PodSecurityConfiguration\n    exemptions: {runtimeclasses: [x]}\n")  # fmt: skip
    code, _, err = audit(kube, "-n", ns, "--psa-config", str(config))
    assert code == 2 and 'unknown field "runtimeclasses"' in err


def test_a_kind_the_credentials_may_not_list_is_reported(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory
) -> None:
    ns = kube_namespace()
    create(kube, pod(ns, "bare", PRIVILEGED))
    create(kube, cronjob(ns, "nightly", PRIVILEGED))
    rules = [
        {"apiGroups": [""], "resources": ["namespaces", "pods", "replicationcontrollers", "podtemplates"],
         "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["list"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list"]},  # not cronjobs
        {"apiGroups": ["networking.k8s.io", "rbac.authorization.k8s.io"], "resources": ["*"], "verbs": ["list"]},
    ]  # fmt: skip
    config = user_kubeconfig(kube, "limited-auditor", rules)
    code, report = audit_json(kube, "-n", ns, kubeconfig=config)
    assert code == 2
    assert report["cluster"]["partial"] is True
    [problem] = report["errors"]
    assert problem["file"] == f"k8s://podsec-test/namespaces/{ns}/cronjobs.batch"
    assert "cannot list cronjobs.batch" in problem["message"] and "forbidden" in problem["message"]
    assert "the audit is partial" in problem["message"]
    assert reported(report) == {("Pod", "bare")}  # the rest is still audited
    code, text, err = audit(kube, "-n", ns, kubeconfig=config)
    assert code == 2 and "PARTIAL" in text and "partial" in err


def test_lists_are_read_in_pages(kube: harness.KubeEnv, kube_namespace: NamespaceFactory) -> None:
    ns = kube_namespace()
    for i in range(7):
        create(kube, pod(ns, f"p{i}", pod_spec(container("app", runAsUser=0))))
    _, small = audit_json(kube, "-n", ns, "--page-size", "2")
    _, large = audit_json(kube, "-n", ns)
    assert reported(small) == reported(large) == {("Pod", f"p{i}") for i in range(7)}
    assert small["cluster"]["requests"]["sent"] - large["cluster"]["requests"]["sent"] == 3  # pods: 4 pages, not 1


def test_every_output_format(kube: harness.KubeEnv, kube_namespace: NamespaceFactory, tmp_path: pathlib.Path) -> None:
    ns = kube_namespace()
    deployment_chain(kube, ns, "web", BASELINE_ONLY, pods=1)
    outputs = {fmt: tmp_path / f"out.{fmt}" for fmt in ("sarif", "policyreport", "junit", "html", "concise", "json")}
    code, text, _ = audit(
        kube, "-n", ns, "--format", "text", *(a for fmt, p in outputs.items() for a in ("-o", f"{fmt}={p}"))
    )
    assert code == 1 and "Deployment " + ns + "/web" in text
    sarif = json.loads(outputs["sarif"].read_text())
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]
            for loc in r["locations"]}  # fmt: skip
    # the Deployment, and the namespace (no default-deny NetworkPolicy)
    assert uris == {f"k8s://podsec-test/namespaces/{ns}/deployments.apps/web", f"k8s://podsec-test/namespaces/{ns}"}
    schema = SHARED / "schemas" / "sarif-schema-2.1.0.json"
    if schema.exists():
        jsonschema = pytest.importorskip("jsonschema")
        jsonschema.validate(sarif, json.loads(schema.read_text()))
    cpolr, polr = list(yaml.safe_load_all(outputs["policyreport"].read_text()))
    assert polr["kind"] == "PolicyReport" and polr["metadata"]["namespace"] == ns
    assert cpolr["kind"] == "ClusterPolicyReport" and {r["resources"][0]["name"] for r in cpolr["results"]} == {ns}
    assert {r["resources"][0]["name"] for r in polr["results"]} == {"web"}
    ET.parse(outputs["junit"])
    assert "web" in outputs["html"].read_text() and "web" in outputs["concise"].read_text()
    assert json.loads(outputs["json"].read_text())["cluster"]["namespaces"] == [ns]


def test_exit_codes(kube: harness.KubeEnv, kube_namespace: NamespaceFactory) -> None:
    clean = kube_namespace()
    code, text, _ = audit(kube, "-n", clean, "--profile", "restricted")
    assert code == 0 and "0 findings in 0 workloads across 1 namespace" in text
    create(kube, pod(clean, "ok", pod_spec(restricted())))
    assert audit(kube, "-n", clean, "--profile", "restricted")[0] == 0
    code, _, err = audit(kube, "-n", "no-such-namespace-here")
    assert code == 2
    code, _, err = audit(kube, "-n", clean, "-A")
    assert code == 2 and "-n and -A" in err
    code, _, err = audit(kube, "-n", clean, kubeconfig=pathlib.Path("/nonexistent/kubeconfig"))
    assert code == 2 and "does not exist" in err


def test_policyreports_written_back(kube: harness.KubeEnv, kube_namespace: NamespaceFactory) -> None:
    install_policyreport_crds(kube)
    ns = kube_namespace()
    web, _, pods = deployment_chain(kube, ns, "web", BASELINE_ONLY, pods=3)
    debug_container(kube, ns, pods[0]["metadata"]["name"], privileged=True)
    many = pod_spec(*(container(f"c{i:02d}-" + "x" * 50, runAsUser=0, privileged=True) for i in range(120)))
    big = create(kube, workload("Deployment", ns, "big", many, replicas=0))

    _, report = audit_json(kube, "-n", ns, "--write-reports")
    assert report["cluster"]["reportsWritten"] == {"written": 4, "errors": []}
    status, listed, _ = kube.request("GET", f"/apis/wgpolicyk8s.io/v1alpha2/namespaces/{ns}/policyreports")
    assert status == 200
    by_scope = {r["scope"]["name"]: r for r in listed["items"]}
    assert set(by_scope) == {"web", "big", pods[0]["metadata"]["name"], ns}  # never the ReplicaSet or same pods
    polr = by_scope["web"]
    assert polr["metadata"]["ownerReferences"][0]["uid"] == web["metadata"]["uid"]
    assert polr["metadata"]["name"] == f"podsec-{web['metadata']['uid']}"
    assert [m["manager"] for m in polr["metadata"]["managedFields"]] == ["podsec"]
    assert polr["metadata"]["managedFields"][0]["operation"] == "Apply"
    assert polr["summary"]["fail"] > 0 and polr["summary"]["pass"] > 0
    assert len(json.dumps(by_scope["big"]).encode()) < 1024 * 1024
    assert by_scope["big"]["scope"]["uid"] == big["metadata"]["uid"]
    assert by_scope[ns]["metadata"]["name"] == "podsec-readiness"
    assert {r["rule"].split(":")[0]: r["result"] for r in by_scope[ns]["results"]} == {
        "baseline": "fail", "restricted": "fail"}  # fmt: skip

    audit_json(kube, "-n", ns, "--write-reports", "--reports-fail-only")
    status, again, _ = kube.request("GET", f"/apis/wgpolicyk8s.io/v1alpha2/namespaces/{ns}/policyreports/"
                                    f"podsec-{web['metadata']['uid']}")  # fmt: skip
    assert {r["result"] for r in again["results"]} == {"fail"}
    assert again["summary"]["pass"] == polr["summary"]["pass"]  # counted, not listed


def test_reports_that_cannot_be_written(kube: harness.KubeEnv, kube_namespace: NamespaceFactory) -> None:
    """Asked to write reports it may not write: said, exit 2 (the audit itself is still reported)."""
    ns = kube_namespace()
    create(kube, pod(ns, "p", pod_spec(restricted())))
    config = user_kubeconfig(kube, "no-report-writer", [
        {"apiGroups": ["", "apps", "batch"], "resources": ["*"], "verbs": ["get", "list"]},
        {"apiGroups": ["wgpolicyk8s.io"], "resources": ["*"], "verbs": ["get", "list"]},
    ])  # fmt: skip
    install_policyreport_crds(kube)
    code, report = audit_json(kube, "-n", ns, "--write-reports", "--profile", "restricted", kubeconfig=config)
    assert code == 2
    assert report["cluster"]["reportsWritten"]["written"] == 0
    assert "forbidden" in report["cluster"]["reportsWritten"]["errors"][0].lower()


def test_podsec_exemptions_apply_as_in_scans(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = kube_namespace()
    spec = pod_spec(container("app", runAsUser=0))
    annotated = workload("Deployment", ns, "annotated", spec)
    annotated["spec"]["template"]["metadata"]["annotations"] = {
        "podsec.io/exempt": "runAsUser", "podsec.io/exempt-reason": "legacy image (OPS-1)"}  # fmt: skip
    create(kube, annotated)
    create(kube, workload("Deployment", ns, "configured", spec))
    (tmp_path / ".podsec.yaml").write_text(
        f"exemptions:\n  - checks: [runAsUser]\n    namespace: {ns}\n    name: configured\n    reason: migrating (OPS-2)\n"
    )
    monkeypatch.chdir(tmp_path)  # the configuration is found as in scans: here or above
    _, report = audit_json(kube, "-n", ns)
    hidden = {(s["object"]["name"], s["check"]) for s in report["suppressed"]}
    assert {("annotated", "runAsUser"), ("configured", "runAsUser")} <= hidden
    assert not [f for f in report["findings"] if f["check"] == "runAsUser"]
    r = readiness(report, ns)  # PSA knows nothing of podsec's exemptions: both still block restricted
    assert sorted(b["object"]["name"] for b in r["blockers"]["restricted"]) == ["annotated", "configured"]
    _, report = audit_json(kube, "-n", ns, "--no-annotation-exemptions")
    assert {f["object"]["name"] for f in report["findings"] if f["check"] == "runAsUser"} == {"annotated"}


def test_context_and_kubeconfig_lists_as_kubectl(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = kube_namespace()
    create(kube, pod(ns, "p", PRIVILEGED))
    other = json.loads(kube.kubeconfig.read_text())
    other["clusters"][0] = {"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}}
    other["contexts"] = [{"name": "nowhere", "context": {"cluster": "nowhere", "user": "admin", "namespace": ns}}]
    other["current-context"] = "nowhere"
    first = tmp_path / "first"
    first.write_text(json.dumps(other))
    monkeypatch.setenv("KUBECONFIG", f"{first}:{kube.kubeconfig}")  # merged as kubectl merges them
    from podsec.cli import main

    assert main(["audit", "--context", "podsec-test", "-n", ns, "--format", "json"]) == 1
    code = main(["audit", "--request-timeout", "1", "--format", "json"])  # current context: nothing answers
    assert code == 2
