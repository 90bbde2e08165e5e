"""Helpers for the cluster tests (``podsec audit`` and ``podsec monitor`` against the real API
server): objects and their owners made explicitly (no controller manager runs here), the
PolicyReport CRDs, users with only some rights, and ``podsec audit`` run in-process."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import pathlib
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from podsec.cli import main
from tests.kube import harness

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "cluster"
PATHS = {
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "ReplicationController": "/api/v1/namespaces/{ns}/replicationcontrollers",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "ReplicaSet": "/apis/apps/v1/namespaces/{ns}/replicasets",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "CronJob": "/apis/batch/v1/namespaces/{ns}/cronjobs",
    "NetworkPolicy": "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
}
API_VERSIONS = {"Pod": "v1", "ReplicationController": "v1", "Job": "batch/v1", "CronJob": "batch/v1"}

RESTRICTED_CONTAINER = {
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
}


def container(name: str = "app", **security: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": "registry.example/app:1"}
    if security:
        c["securityContext"] = security
    return c


def restricted(name: str = "app") -> dict[str, Any]:
    return {**container(name), **copy.deepcopy(RESTRICTED_CONTAINER)}


def pod_spec(*containers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"containers": list(containers) or [restricted()], **extra}


def owner_ref(owner: Mapping[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def create(kube: harness.KubeEnv, obj: dict[str, Any]) -> dict[str, Any]:
    """POST ``obj`` (apiVersion filled in for the kinds of `PATHS`); the created object."""
    obj.setdefault("apiVersion", API_VERSIONS.get(obj["kind"], "apps/v1"))
    path = PATHS[obj["kind"]].format(ns=obj["metadata"].get("namespace"))
    status, body, _ = kube.request("POST", path, obj)
    if status != 201:
        raise AssertionError(f"cannot create {obj['kind']} {obj['metadata']['name']}: {status} {body}")
    body.setdefault("apiVersion", obj["apiVersion"])
    body.setdefault("kind", obj["kind"])
    return dict(body)


def workload(kind: str, ns: str, name: str, spec: dict[str, Any], *, replicas: int | None = 1,
             owner: Mapping[str, Any] | None = None, labels: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A Deployment, ReplicaSet, StatefulSet, DaemonSet or Job with this pod spec (not created)."""
    match = {"app": name} if labels is None else dict(labels)
    body: dict[str, Any] = {
        "selector": {"matchLabels": match},
        "template": {"metadata": {"labels": match}, "spec": spec},
    }
    if kind == "Job":
        body = {"template": {"spec": {"restartPolicy": "Never", **spec}}}
    if kind == "StatefulSet":
        body["serviceName"] = name
    if replicas is not None and kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        body["replicas"] = replicas
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if owner is not None:
        meta["ownerReferences"] = [owner_ref(owner)]
    return {"kind": kind, "metadata": meta, "spec": body}


def cronjob(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    template = {"spec": {"template": {"spec": {"restartPolicy": "Never", **spec}}}}
    return {"kind": "CronJob", "metadata": {"name": name, "namespace": ns}, "spec": {"schedule": "0 3 * * *",
            "jobTemplate": template}}  # fmt: skip


def pod(ns: str, name: str, spec: dict[str, Any], *, owner: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": dict(labels or {})}
    if owner is not None:
        meta["ownerReferences"] = [owner_ref(owner)]
    return {"kind": "Pod", "metadata": meta, "spec": copy.deepcopy(spec)}


def deployment_chain(kube: harness.KubeEnv, ns: str, name: str, spec: dict[str, Any], *,
                     pods: int = 2) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    """A Deployment, its current ReplicaSet and its pods, as the controllers would make them."""
    d = create(kube, workload("Deployment", ns, name, spec, replicas=pods))
    rs = create(kube, workload("ReplicaSet", ns, f"{name}-{secrets.token_hex(3)}", spec, replicas=pods, owner=d,
                               labels={"app": name}))  # fmt: skip
    made = [create(kube, pod(ns, f"{rs['metadata']['name']}-{i}", spec, owner=rs, labels={"app": name}))
            for i in range(pods)]  # fmt: skip
    return d, rs, made


def set_phase(kube: harness.KubeEnv, ns: str, name: str, phase: str) -> None:
    patch = json.dumps({"status": {"phase": phase}})
    kube.kubectl("patch", "pod", name, "-n", ns, "--subresource=status", "--type=merge", "-p", patch)


def debug_container(kube: harness.KubeEnv, ns: str, name: str, **security: Any) -> None:
    """Add an ephemeral container to a pod, as ``kubectl debug`` does."""
    status, current, _ = kube.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
    assert status == 200, current
    current["spec"].setdefault("ephemeralContainers", []).append(
        {"name": "debugger", "image": "busybox", "stdin": True, "tty": True, **({"securityContext": security}
                                                                                 if security else {})}
    )  # fmt: skip
    status, body, _ = kube.request("PUT", f"/api/v1/namespaces/{ns}/pods/{name}/ephemeralcontainers", current)
    assert status == 200, body


def install_policyreport_crds(kube: harness.KubeEnv) -> None:
    """The PolicyReport and ClusterPolicyReport CRDs (once per server), established."""
    base = yaml.safe_load((DATA / "policyreport-crd.yaml").read_text())
    cluster = copy.deepcopy(base)
    cluster["metadata"]["name"] = "clusterpolicyreports.wgpolicyk8s.io"
    cluster["spec"]["scope"] = "Cluster"
    cluster["spec"]["names"] = {"kind": "ClusterPolicyReport", "listKind": "ClusterPolicyReportList",
                                "plural": "clusterpolicyreports", "singular": "clusterpolicyreport",
                                "shortNames": ["cpolr"]}  # fmt: skip
    install_crds(kube, [base, cluster], "wgpolicyk8s.io/v1alpha2", {"policyreports", "clusterpolicyreports"})


def install_prometheusrule_crd(kube: harness.KubeEnv) -> None:
    """A minimal, schema-less PrometheusRule CRD (once per server), established."""
    crd = yaml.safe_load((DATA / "prometheusrule-crd.yaml").read_text())
    install_crds(kube, [crd], "monitoring.coreos.com/v1", {"prometheusrules"})


def install_crds(kube: harness.KubeEnv, crds: Sequence[Mapping[str, Any]], group_version: str,
                 plurals: set[str]) -> None:  # fmt: skip
    """Create ``crds`` (already there is fine) and wait until ``group_version`` serves ``plurals``."""
    for crd in crds:
        status, body, _ = kube.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
        assert status in (201, 409), body
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            status, doc, _ = kube.request("GET", f"/apis/{group_version}")
        except ValueError:  # "404 page not found" in plain text: not served yet
            status, doc = 404, None
        names = {r["name"] for r in (doc or {}).get("resources", [])} if status == 200 else set()
        if plurals <= names:
            return
        time.sleep(0.2)
    raise AssertionError(f"{sorted(plurals)} of {group_version} were not served in 30 s")


def user_kubeconfig(kube: harness.KubeEnv, user: str, rules: Sequence[Mapping[str, Any]],
                    server: str | None = None) -> pathlib.Path:  # fmt: skip
    """A kubeconfig for ``user``, who may do only what ``rules`` (a ClusterRole's) allow."""
    pki = kube.workdir / "pki"
    cert, key = harness.client_cert(pki, user, f"user-{user}")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": user},
            "rules": list(rules)}  # fmt: skip
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": user},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": user},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}  # fmt: skip
    for path, obj in (("clusterroles", role), ("clusterrolebindings", binding)):
        status, body, _ = kube.request("POST", f"/apis/rbac.authorization.k8s.io/v1/{path}", obj)
        assert status in (201, 409), body
    config = kube.workdir / f"kubeconfig-{user}"
    config.write_text(kube.kubeconfig_text(cert, key, server))
    return config


def audit(kube: harness.KubeEnv, *args: str, kubeconfig: pathlib.Path | None = None) -> tuple[int, str, str]:
    """``podsec audit ARGS`` in-process against the server: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["audit", "--kubeconfig", str(kubeconfig or kube.kubeconfig), "--no-color", *args])
    return code, out.getvalue(), err.getvalue()


def audit_json(kube: harness.KubeEnv, *args: str, kubeconfig: pathlib.Path | None = None) -> tuple[int, dict[str, Any]]:
    code, out, err = audit(kube, "--format", "json", *args, kubeconfig=kubeconfig)
    assert out, err
    return code, json.loads(out)


def reported(report: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every object with findings or exemptions in a JSON report, but for namespaces
    (the default-deny findings of the hardened profile; `test_audit_beyond` has those)."""
    found = [*report["findings"], *report["suppressed"]]
    return {(f["object"]["kind"], f["object"]["name"]) for f in found if f["object"]["kind"] != "Namespace"}


def readiness(report: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    found = [r for r in report["cluster"]["readiness"] if r["namespace"] == namespace]
    assert found, f"no readiness for {namespace}"
    return dict(found[0])
