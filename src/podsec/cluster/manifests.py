"""``podsec monitor manifests``: the objects that run the monitor in a cluster, least privilege.

Read-only on what it audits (get/list/watch on pods, every pod-bearing kind of the kinds table
and namespaces), write only on PolicyReports and its own Lease; a pod that passes podsec's own
``hardened`` profile; a Service for the metrics and a PrometheusRule with the alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from podsec.admission.manifests import API_TOKEN_MOUNT, api_token_volume, container_security, default_deny
from podsec.model.workloads import BUILTIN_RULES

NAME = "podsec-monitor"
CORE = frozenset({"Pod", "ReplicationController", "PodTemplate"})
PORT = 8080


@dataclass(frozen=True, slots=True)
class Options:
    namespace: str = "podsec"
    image: str = "ghcr.io/podsec/podsec:0.1.0"
    replicas: int = 2
    write_reports: bool = True
    prometheus_rule: bool = True
    stale_seconds: int = 3 * 3600  # the stale-audit alert: no complete audit for this long


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "podsec"}


def _read_rules() -> list[dict[str, Any]]:
    """get/list/watch on namespaces and every pod-bearing kind podsec knows (plural: the kind's
    name in lower case plus ``s``, which holds for every kind of the table)."""
    groups: dict[str, set[str]] = {"": {"namespaces"}}
    for rule in BUILTIN_RULES:
        for group in rule.groups:
            if group == "extensions" or (group == "" and rule.kind not in CORE):
                continue  # served by no current Kubernetes (the core group's DeploymentConfig: OpenShift 3)
            groups.setdefault(group, set()).add(rule.kind.lower() + "s")
    return [{"apiGroups": [g], "resources": sorted(r), "verbs": ["get", "list", "watch"]}
            for g, r in sorted(groups.items())]  # fmt: skip


def _deployment(o: Options) -> dict[str, Any]:
    args = ["monitor", "--listen", f"0.0.0.0:{PORT}", "--lease-namespace", o.namespace]
    if o.write_reports:
        args.append("--write-reports")
    probe = {"httpGet": {"path": "/healthz", "port": PORT}, "periodSeconds": 20, "timeoutSeconds": 2}
    ready = {"httpGet": {"path": "/readyz", "port": PORT}, "periodSeconds": 10, "timeoutSeconds": 2}
    container = {
        "name": "monitor",
        "image": o.image,
        "args": args,
        "ports": [{"name": "metrics", "containerPort": PORT}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "livenessProbe": probe,
        "readinessProbe": ready,
        "securityContext": container_security(),
        "volumeMounts": [dict(API_TOKEN_MOUNT)],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": o.namespace, "labels": _labels()},
        "spec": {
            "replicas": o.replicas,
            "selector": {"matchLabels": _labels()},
            "template": {
                "metadata": {"labels": _labels()},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": False,
                    "hostUsers": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [api_token_volume()],
                },
            },
        },
    }


def _alerts(o: Options) -> list[dict[str, Any]]:
    def alert(name: str, expr: str, duration: str, severity: str, summary: str) -> dict[str, Any]:
        return {"alert": name, "expr": expr, "for": duration, "labels": {"severity": severity},
                "annotations": {"summary": summary}}  # fmt: skip

    return [
        alert("PodsecNamespaceWouldBreak", "max by (namespace) (podsec_namespace_would_break) > 0", "15m", "warning",
              "{{ $labels.namespace }}: its enforced Pod Security level would deny objects that run there now"),
        alert("PodsecLabelDrift", "max by (namespace) (podsec_namespace_label_drift) == 1", "24h", "info",
              "{{ $labels.namespace }} enforces less than it could (podsec audit shows the kubectl label command)"),
        alert("PodsecAuditStale", f"time() - max(podsec_audit_last_success_timestamp_seconds) > {o.stale_seconds}",
              "10m", "warning", "podsec monitor has not completed an audit recently"),
        alert("PodsecMonitorAbsent", f'absent(up{{job="{NAME}"}} == 1)', "15m", "warning",
              "no podsec monitor replica is up"),
        alert("PodSecurityDenials",
              "sum by (policy_level) (increase(pod_security_evaluations_total"
              '{decision="deny",mode="enforce"}[1h])) > 0',
              "0m", "warning", "Pod Security Admission denied requests at {{ $labels.policy_level }} in the last hour"),
    ]  # fmt: skip


OPEN_REASON = (
    "Prometheus scrapes the metrics from its own namespace, and the monitor calls the API server, at addresses "
    "not known in advance"
)


def _network_policies(o: Options) -> list[dict[str, Any]]:
    """Default deny in its namespace (the webhook's policy of the same name, when both run there), then
    metrics in and the API server out, on their ports only."""
    deny = default_deny(o.namespace, _labels())
    own = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": NAME,
            "namespace": o.namespace,
            "labels": _labels(),
            "annotations": {
                "podsec.io/exempt": "allowAllIngress, allowAllEgress",
                "podsec.io/exempt-reason": OPEN_REASON,
            },
        },
        "spec": {
            "podSelector": {"matchLabels": _labels()},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": PORT}]}],
            "egress": [{"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}],
        },
    }
    return [deny, own]


def objects(o: Options) -> list[dict[str, Any]]:
    ns, labels = o.namespace, _labels()
    rbac = "rbac.authorization.k8s.io/v1"
    write = [{"apiGroups": ["wgpolicyk8s.io"], "resources": ["policyreports", "clusterpolicyreports"],
              "verbs": ["get", "list", "create", "patch", "update", "delete"]}] if o.write_reports else []  # fmt: skip
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": NAME, "namespace": ns, "labels": labels},
         "automountServiceAccountToken": False},
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": {"name": NAME, "labels": labels},
         "rules": [*_read_rules(), *write]},
        {"apiVersion": rbac, "kind": "ClusterRoleBinding", "metadata": {"name": NAME, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]},
        {"apiVersion": rbac, "kind": "Role", "metadata": {"name": NAME, "namespace": ns, "labels": labels},
         "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                    "verbs": ["get", "create", "update"]}]},
        {"apiVersion": rbac, "kind": "RoleBinding", "metadata": {"name": NAME, "namespace": ns, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": ns}]},
        _deployment(o),
        *_network_policies(o),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME, "namespace": ns, "labels": labels},
         "spec": {"selector": labels, "ports": [{"name": "metrics", "port": PORT, "targetPort": "metrics"}]}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
         "metadata": {"name": NAME, "namespace": ns, "labels": labels},
         "spec": {"groups": [{"name": "podsec", "rules": _alerts(o)}]}},
    ]  # fmt: skip
    return docs if o.prometheus_rule else docs[:-1]


def render(o: Options) -> str:
    header = "# podsec monitor: kubectl apply -f - (the PrometheusRule needs the Prometheus operator's CRDs)\n"
    return header + yaml.safe_dump_all(objects(o), sort_keys=False, explicit_start=True)
