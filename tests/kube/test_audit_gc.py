"""The PolicyReports ``podsec audit --write-reports`` writes are deleted with what they report on:
kube-controller-manager's garbage collector runs against the real API server, the owner (a
Deployment) is deleted, and its report goes; the namespace's readiness report and the reports of
other objects stay."""

from __future__ import annotations

import time

import pytest

from tests.kube import harness
from tests.kube.cluster import audit_json, container, create, install_policyreport_crds, pod_spec, workload
from tests.kube.fixtures import NamespaceFactory

REPORTS = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/{ns}/policyreports"


@pytest.fixture(scope="module")
def collecting(kube: harness.KubeEnv) -> harness.KubeEnv:
    """The session's server, with the PolicyReport CRDs (before the collector starts, so that it
    watches them from its first sync) and kube-controller-manager's garbage collector running."""
    install_policyreport_crds(kube)
    kube.start_controllers("garbage-collector-controller")
    return kube


def _names(kube: harness.KubeEnv, ns: str) -> set[str]:
    status, listed, _ = kube.request("GET", REPORTS.format(ns=ns))
    assert status == 200, listed
    return {r["metadata"]["name"] for r in listed["items"]}


def test_a_report_is_deleted_with_its_owner(collecting: harness.KubeEnv, kube_namespace: NamespaceFactory) -> None:
    kube = collecting
    ns = kube_namespace()
    privileged = pod_spec(container("app", privileged=True))
    gone = create(kube, workload("Deployment", ns, "gone", privileged, replicas=0))
    kept = create(kube, workload("Deployment", ns, "kept", privileged, replicas=0))
    code, report = audit_json(kube, "-n", ns, "--write-reports")
    assert code == 1 and report["cluster"]["reportsWritten"] == {"written": 3, "errors": []}
    gone_report, kept_report = (f"podsec-{d['metadata']['uid']}" for d in (gone, kept))
    assert _names(kube, ns) == {gone_report, kept_report, "podsec-readiness"}

    kube.kubectl("delete", "deployment", "gone", "-n", ns, "--wait=true")
    deadline = time.monotonic() + 90  # the collector's first sync of every kind, then the deletion
    while gone_report in _names(kube, ns):
        if time.monotonic() > deadline:
            log = (kube.workdir / "kube-controller-manager.log").read_text()[-3000:]
            raise AssertionError(f"the report of the deleted Deployment was not collected in 90 s:\n{log}")
        time.sleep(0.5)
    assert _names(kube, ns) == {kept_report, "podsec-readiness"}
