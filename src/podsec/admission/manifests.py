"""``podsec webhook manifests``: everything needed to run the webhook, as YAML for ``kubectl apply -f -``.

Choices, and why:

* Three replicas, each on its own node (required anti-affinity: with ``failurePolicy: Fail``
  two replicas on one node are one failure), a PodDisruptionBudget that lets one go at a time
  (so at least two serve during a drain), ``priorityClassName: system-cluster-critical`` (the
  webhook gates every pod: it must not be preempted by them), probes on ``/healthz``
  (liveness: never tied to the API server) and ``/readyz``.
* Memory sized from the server's bound (`ServerSettings.memory_bound`: the body budget,
  connections, caches and each worker's heap limit), CPU limited to the workers' count.
* NetworkPolicies: default deny (ingress and egress) for the namespace; for the webhook,
  ingress only on its port, from ``--api-server-cidr`` (the API server's addresses) when given,
  and egress only to the API server's ports. Without the addresses those two rules name ports
  only, and carry a podsec exemption of the allow-all checks that says why.
* The pods pass podsec's own ``hardened`` profile: non-root UID/GID, RuntimeDefault
  seccomp, read-only root filesystem, no capabilities, no privilege escalation, a user
  namespace (``hostUsers: false``, Kubernetes 1.33+), and the service account token only
  as an explicitly projected volume (the webhook reads namespace labels with it).
* Pods: ``failurePolicy: Fail`` by default (a pod the webhook cannot check is not
  admitted, as with Pod Security Admission); workloads: ``Ignore`` (they are only warned
  and audited, and their pods are checked anyway). ``timeoutSeconds: 5``,
  ``sideEffects: None``, ``admissionReviewVersions: [v1]``.
* Both configurations skip ``kube-system`` and podsec's own namespace, so the webhook can
  never block its own recovery or the control plane's; with cert-manager providing TLS, its
  namespace too (cert-manager must be able to start to renew the webhook's certificate).
* Mutation is opt-in per namespace: the mutating webhook only sees namespaces labelled
  ``podsec.io/mutate: "true"``, and fails open (validation still enforces).
* TLS: cert-manager (a self-signed Issuer, a Certificate, and caBundle injection), or a
  Secret you create from ``podsec webhook cert`` with the CA passed as ``--ca-bundle``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import yaml

from podsec.model.workloads import served_resources

NAME = "podsec-webhook"
WORKLOADS = served_resources()  # every kind of the kinds table that carries a pod (bare Pods have their own rule)
CONFIG = """\
# podsec webhook configuration (see the README, "Admission webhook")
webhook:
  exemptions:
    usernames: []
    runtimeClasses: []
    namespaces: []
  defaults:
    enforce: privileged
    audit: restricted
    warn: restricted
  enforceWorkloads: false
  mutateByDefault: false
  failureMode: {failure_mode}
  annotationExemptions: false    # podsec.io/exempt on a pod: off (any pod author could exempt their pod)
"""
MiB = 1024 * 1024
PORT = 8443


@dataclass(frozen=True, slots=True)
class Options:
    """Every knob of ``podsec webhook manifests`` (the Helm chart's values mirror them)."""

    namespace: str = "podsec"
    image: str = "ghcr.io/podsec/podsec:0.1.0"
    tls: str = "cert-manager"  # cert-manager | secret
    ca_bundle: bytes | None = None
    failure_policy: str = "Fail"  # for pods; workloads and mutation always Ignore
    failure_mode: str = "deny"  # the server's answer to a review it cannot finish in time
    timeout_seconds: int = 10
    replicas: int = 3
    workers: int = 2
    priority_class: str = "system-cluster-critical"
    api_server_cidrs: tuple[str, ...] = ()
    cert_manager_namespace: str = "cert-manager"

    def memory_limit(self) -> str:
        """The pod's memory limit: the server's bound for these workers, in whole 64 MiB steps."""
        from podsec.admission.server import ServerSettings

        bound = ServerSettings(workers=self.workers).memory_bound()
        return f"{-(-bound // (64 * MiB)) * 64}Mi"


API_TOKEN_MOUNT = {"name": "api-token", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}


def api_token_volume() -> dict[str, Any]:
    """The service account token, mounted explicitly (``automountServiceAccountToken: false``,
    as the hardened profile asks): a short-lived token, the cluster's CA and the namespace."""
    return {
        "name": "api-token",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ]
        },
    }


def container_security() -> dict[str, Any]:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "podsec"}


def _deployment(o: Options) -> dict[str, Any]:
    namespace, image = o.namespace, o.image
    probe = {"httpGet": {"path": "/healthz", "port": PORT, "scheme": "HTTPS"}, "periodSeconds": 10, "timeoutSeconds": 2}
    ready = {"httpGet": {"path": "/readyz", "port": PORT, "scheme": "HTTPS"}, "periodSeconds": 5, "timeoutSeconds": 2}
    token = api_token_volume()
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": namespace, "labels": _labels()},
        "spec": {
            "replicas": o.replicas,
            "selector": {"matchLabels": _labels()},
            "template": {
                "metadata": {"labels": _labels()},
                "spec": {
                    "serviceAccountName": NAME,
                    "priorityClassName": o.priority_class,
                    "automountServiceAccountToken": False,
                    "hostUsers": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 65532,  # the image's user (distroless "nonroot")
                        "runAsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": {
                        "podAntiAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": [
                                {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": _labels()}}
                            ]
                        }
                    },
                    "containers": [
                        {
                            "name": "webhook",
                            "image": image,
                            "args": [
                                "webhook",
                                "serve",
                                "--tls-cert",
                                "/tls/tls.crt",
                                "--tls-key",
                                "/tls/tls.key",
                                "--config",
                                "/config/podsec.yaml",
                                "--port",
                                str(PORT),
                                "--workers",
                                str(o.workers),
                                "--shutdown-delay",
                                "5",
                                "--graceful-seconds",
                                "20",
                            ],
                            "ports": [{"name": "https", "containerPort": PORT}],
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "256Mi"},
                                "limits": {"cpu": str(o.workers), "memory": o.memory_limit()},
                            },
                            "livenessProbe": probe,
                            "readinessProbe": ready,
                            "securityContext": container_security(),
                            "volumeMounts": [
                                {"name": "tls", "mountPath": "/tls", "readOnly": True},
                                {"name": "config", "mountPath": "/config", "readOnly": True},
                                API_TOKEN_MOUNT,
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "tls", "secret": {"secretName": f"{NAME}-tls"}},
                        {"name": "config", "configMap": {"name": "podsec-config"}},
                        token,
                    ],
                },
            },
        },
    }


def _client(namespace: str, path: str, ca_bundle: bytes | None) -> dict[str, Any]:
    config: dict[str, Any] = {"service": {"namespace": namespace, "name": NAME, "path": path, "port": 443}}
    if ca_bundle is not None:
        config["caBundle"] = base64.b64encode(ca_bundle).decode()
    return config


def _selector(o: Options, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    skipped = ["kube-system", o.namespace]
    if o.tls == "cert-manager":
        skipped.append(o.cert_manager_namespace)  # cert-manager renews our certificate: it must always start
    skip = {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": skipped}
    return {"matchExpressions": [skip, *(extra or [])]}


def _webhook(name: str, o: Options, path: str, rules: list[dict[str, Any]], failure: str, ca: bytes | None,
             selector: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name,
        "clientConfig": _client(o.namespace, path, ca),
        "rules": rules,
        "failurePolicy": failure,
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "timeoutSeconds": o.timeout_seconds,
        "admissionReviewVersions": ["v1"],
        "namespaceSelector": selector,
    }


DEFAULT_DENY = "default-deny"


def default_deny(namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """The NetworkPolicy that denies all ingress and egress to every pod of ``namespace``."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": DEFAULT_DENY, "namespace": namespace, "labels": labels},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


OPEN_REASON = "the API server calls the webhook, and is called by it, from addresses not known in advance"


def _network_policies(o: Options) -> list[dict[str, Any]]:
    """Default deny for the whole namespace; then, for the webhook, ingress only to its port, from the
    API server's addresses when they are given, and egress only to the API server (the namespace
    watch), on its usual ports. Without the addresses those rules name ports only: podsec's
    allow-all checks are exempted on that policy, with the reason."""
    sources = [{"ipBlock": {"cidr": c}} for c in o.api_server_cidrs]
    ingress: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": PORT}]}
    egress: dict[str, Any] = {"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}
    meta: dict[str, Any] = {"name": NAME, "namespace": o.namespace, "labels": _labels()}
    if sources:
        ingress["from"] = sources
        egress["to"] = sources
    else:
        meta["annotations"] = {
            "podsec.io/exempt": "allowAllIngress, allowAllEgress",
            "podsec.io/exempt-reason": OPEN_REASON,
        }
    deny = default_deny(o.namespace, _labels())
    webhook = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta,
        "spec": {
            "podSelector": {"matchLabels": _labels()},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [ingress],
            "egress": [egress],
        },
    }
    return [deny, webhook]


def objects(o: Options) -> list[dict[str, Any]]:
    namespace, tls, ca_bundle, failure_policy = o.namespace, o.tls, o.ca_bundle, o.failure_policy
    if o.replicas < 2:
        raise ValueError("replicas: at least 2 (one node's failure must not stop every pod creation)")
    annotations = {"cert-manager.io/inject-ca-from": f"{namespace}/{NAME}"} if tls == "cert-manager" else {}
    pod_rules = [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["pods", "pods/ephemeralcontainers"],
        }
    ]
    workload_rules = [
        {"apiGroups": [group], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"], "resources": resources}
        for group, resources in WORKLOADS
    ]
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted", "podsec.io/enforce": "hardened"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": NAME, "namespace": namespace},
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": NAME, "labels": _labels()},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": NAME, "labels": _labels()},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": NAME},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "podsec-config", "namespace": namespace},
            "data": {"podsec.yaml": CONFIG.format(failure_mode=o.failure_mode)},
        },
        _deployment(o),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "namespace": namespace, "labels": _labels()},
            "spec": {"selector": _labels(), "ports": [{"name": "https", "port": 443, "targetPort": PORT}]},
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": NAME, "namespace": namespace},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _labels()}},
        },
        *_network_policies(o),
    ]
    if tls == "cert-manager":
        docs += [
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Issuer",
                "metadata": {"name": f"{NAME}-selfsigned", "namespace": namespace},
                "spec": {"selfSigned": {}},
            },
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": {"name": NAME, "namespace": namespace},
                "spec": {
                    "secretName": f"{NAME}-tls",
                    "dnsNames": [f"{NAME}.{namespace}.svc", f"{NAME}.{namespace}.svc.cluster.local"],
                    "issuerRef": {"name": f"{NAME}-selfsigned", "kind": "Issuer"},
                    "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                    "duration": "2160h",
                    "renewBefore": "720h",
                },
            },
        ]
    ca = None if tls == "cert-manager" else ca_bundle
    docs += [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": NAME, "labels": _labels(), "annotations": annotations},
            "webhooks": [
                _webhook("pods.validate.podsec.io", o, "/validate", pod_rules, failure_policy, ca, _selector(o)),
                _webhook("workloads.validate.podsec.io", o, "/validate", workload_rules, "Ignore", ca, _selector(o)),
            ],
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": NAME, "labels": _labels(), "annotations": annotations},
            "webhooks": [
                {
                    **_webhook(
                        "pods.mutate.podsec.io",
                        o,
                        "/mutate",
                        [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}],
                        "Ignore",
                        ca,
                        _selector(o, [{"key": "podsec.io/mutate", "operator": "In", "values": ["true"]}]),
                    ),
                    "reinvocationPolicy": "Never",
                }
            ],
        },
    ]
    for doc in docs:
        meta = doc["metadata"]
        if not meta.get("annotations"):
            meta.pop("annotations", None)
    return docs


def render(options: Options) -> str:
    header = "# podsec admission webhook: kubectl apply -f -\n"
    return header + yaml.safe_dump_all(objects(options), sort_keys=False, explicit_start=True)
