"""``podsec audit --profile hardened`` against the real API server, beyond the pod: namespaces with
and without a default-deny NetworkPolicy, a rule that allows everything, and RoleBindings that let a
user create pods where no enforce label stops a privileged one — read from the cluster and reported
like the pod findings (k8s:// URIs, every output format); a kind the credentials may not list is
reported, and the audit is partial."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from tests.kube import harness
from tests.kube.cluster import audit, audit_json, create, user_kubeconfig
from tests.kube.fixtures import NamespaceFactory

RBAC = "rbac.authorization.k8s.io"
ROLES = f"rolebindings.{RBAC}"
CTX = "k8s://podsec-test"


def network_policy(ns: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"namespace": ns, "name": name},
            "spec": {"podSelector": {}, **spec}}  # fmt: skip


def pod_creator(kube: harness.KubeEnv, ns: str, user: str) -> None:
    """A Role that may create pods in ``ns``, bound to ``user``."""
    rules = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}]
    create(kube, {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"namespace": ns, "name": "runner"},
                  "rules": rules})  # fmt: skip
    create(kube, {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"namespace": ns, "name": user},
                  "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "runner"},
                  "subjects": [{"apiGroup": RBAC, "kind": "User", "name": user}]})  # fmt: skip


def found(report: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(f["check"], f["object"]["kind"], f["object"]["name"], f["file"]) for f in report["findings"]}


def test_namespaces_network_policies_and_rbac_from_the_cluster(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory, tmp_path: pathlib.Path
) -> None:
    open_ns = kube_namespace()  # no policy, no enforce label
    closed = kube_namespace({"pod-security.kubernetes.io/enforce": "restricted"})
    create(kube, network_policy(closed, "default-deny", policyTypes=["Ingress", "Egress"]))
    create(kube, network_policy(closed, "allow-all", ingress=[{}]))  # undoes ingress isolation
    create(kube, network_policy(open_ns, "ingress-only"))  # policyTypes defaulted to Ingress: egress stays open
    pod_creator(kube, open_ns, "alice")
    pod_creator(kube, closed, "bob")  # restricted is enforced there: no privileged pod

    sarif_path = tmp_path / "out.sarif"
    code, report = audit_json(kube, "-n", open_ns, "-n", closed, "--profile", "hardened", "-o", f"sarif={sarif_path}")
    assert code == 1 and report["errors"] == [] and report["cluster"]["partial"] is False
    netpol = "networkpolicies.networking.k8s.io"
    assert found(report) == {
        ("defaultDenyEgress", "Namespace", open_ns, f"{CTX}/namespaces/{open_ns}"),
        ("allowAllIngress", "NetworkPolicy", "allow-all", f"{CTX}/namespaces/{closed}/{netpol}/allow-all"),
        ("rbacPrivilegedPods", "RoleBinding", "alice", f"{CTX}/namespaces/{open_ns}/{ROLES}/alice"),
    }
    [alice] = [f for f in report["findings"] if f["check"] == "rbacPrivilegedPods"]
    assert f'"{open_ns}" (enforce privileged)' in alice["message"] and alice["field"] == "subjects[0]"
    counts = {r["resource"]: r["read"] for r in report["cluster"]["resources"]}
    assert counts[netpol] == 3 and counts[ROLES] == 2 and counts[f"roles.{RBAC}"] == 2
    sarif = json.loads(sarif_path.read_text())
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]
            for loc in r["locations"]}  # fmt: skip
    assert f"{CTX}/namespaces/{open_ns}/{ROLES}/alice" in uris and f"{CTX}/namespaces/{open_ns}" in uris

    code, text, _ = audit(kube, "-n", open_ns, "--profile", "hardened")
    assert code == 1 and "rbacPrivilegedPods" in text and "defaultDenyEgress" in text

    # the enforce label is read from the live Namespace: labelled, alice can no longer run a privileged pod
    status, namespace, _ = kube.request("GET", f"/api/v1/namespaces/{open_ns}")
    assert status == 200, namespace
    namespace["metadata"].setdefault("labels", {})["pod-security.kubernetes.io/enforce"] = "baseline"
    status, body, _ = kube.request("PUT", f"/api/v1/namespaces/{open_ns}", namespace)
    assert status == 200, body
    _, report = audit_json(kube, "-n", open_ns, "--profile", "hardened")
    assert {f["check"] for f in report["findings"]} == {"defaultDenyEgress"}

    # without the hardened profile nothing beyond the pod is read
    _, report = audit_json(kube, "-n", open_ns, "--profile", "restricted")
    assert report["findings"] == [] and netpol not in {r["resource"] for r in report["cluster"]["resources"]}


def test_cluster_role_bindings_with_all_namespaces(kube: harness.KubeEnv) -> None:
    create(kube, {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "carol-edit"},
                  "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "edit"},
                  "subjects": [{"apiGroup": RBAC, "kind": "User", "name": "carol"}]})  # fmt: skip
    _, report = audit_json(kube, "-A", "--profile", "hardened")
    carol = [f for f in report["findings"] if f["object"]["name"] == "carol-edit"]
    assert {f["check"] for f in carol} >= {"rbacPrivilegedPods", "rbacExec"}
    assert {f["file"] for f in carol} == {f"{CTX}/clusterrolebindings.{RBAC}/carol-edit"}


def test_a_kind_beyond_the_pod_the_credentials_may_not_list_is_reported(
    kube: harness.KubeEnv, kube_namespace: NamespaceFactory
) -> None:
    ns = kube_namespace()
    rules = [
        {"apiGroups": [""], "resources": ["namespaces", "pods", "replicationcontrollers", "podtemplates"],
         "verbs": ["get", "list"]},
        {"apiGroups": ["apps", "batch", RBAC], "resources": ["*"], "verbs": ["list"]},  # not networkpolicies
    ]  # fmt: skip
    config = user_kubeconfig(kube, "auditor-no-netpol", rules)
    code, report = audit_json(kube, "-n", ns, "--profile", "hardened", kubeconfig=config)
    assert code == 2 and report["cluster"]["partial"] is True
    [problem] = report["errors"]
    assert problem["file"] == f"{CTX}/namespaces/{ns}/networkpolicies.networking.k8s.io"
    assert "cannot list networkpolicies.networking.k8s.io" in problem["message"] and "forbidden" in problem["message"]
