"""``podsec webhook manifests``: everything needed to run the webhook, as YAML for ``kubectl apply -f -``.

Choices, and why:

* Two replicas spread across nodes, a PodDisruptionBudget, resource requests and limits,
  probes on ``/healthz`` (liveness: never tied to the API server) and ``/readyz``.
* The pods pass podsec's own ``hardened`` profile: non-root UID/GID, RuntimeDefault
  seccomp, read-only root filesystem, no capabilities, no privilege escalation, a user
  namespace (``hostUsers: false``, Kubernetes 1.33+), and the service account token only
  as an explicitly projected volume (the webhook reads namespace labels with it).
* Pods: ``failurePolicy: Fail`` by default (a pod the webhook cannot check is not
  admitted, as with Pod Security Admission); workloads: ``Ignore`` (they are only warned
  and audited, and their pods are checked anyway). ``timeoutSeconds: 5``,
  ``sideEffects: None``, ``admissionReviewVersions: [v1]``.
* Both configurations skip ``kube-system`` and podsec's own namespace, so the webhook can
  never block its own recovery or the control plane's.
* Mutation is opt-in per namespace: the mutating webhook only sees namespaces labelled
  ``podsec.io/mutate: "true"``, and fails open (validation still enforces).
* TLS: cert-manager (a self-signed Issuer, a Certificate, and caBundle injection), or a
  Secret you create from ``podsec webhook cert`` with the CA passed as ``--ca-bundle``.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

NAME = "podsec-webhook"
WORKLOADS = [
    ("", ["replicationcontrollers", "podtemplates"]),
    ("apps", ["deployments", "replicasets", "statefulsets", "daemonsets"]),
    ("batch", ["jobs", "cronjobs"]),
    ("argoproj.io", ["rollouts", "workflows", "workflowtemplates", "cronworkflows"]),
    ("apps.openshift.io", ["deploymentconfigs"]),
    ("serving.knative.dev", ["services", "configurations", "revisions"]),
]
CONFIG = """\
# podsec webhook configuration (see the README, "Admission webhook")
annotationExemptions: true
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
"""


def _labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "podsec"}


def _deployment(namespace: str, image: str) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": 8443, "scheme": "HTTPS"}, "periodSeconds": 10, "timeoutSeconds": 2}
    ready = {"httpGet": {"path": "/readyz", "port": 8443, "scheme": "HTTPS"}, "periodSeconds": 5, "timeoutSeconds": 2}
    token = {
        "name": "api-token",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            ]
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": namespace, "labels": _labels()},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": _labels()},
            "template": {
                "metadata": {"labels": _labels()},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": False,
                    "hostUsers": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "topologyKey": "kubernetes.io/hostname",
                                        "labelSelector": {"matchLabels": _labels()},
                                    },
                                }
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
                                "8443",
                                "--shutdown-delay",
                                "5",
                                "--graceful-seconds",
                                "20",
                            ],
                            "ports": [{"name": "https", "containerPort": 8443}],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "128Mi"},
                                "limits": {"cpu": "1", "memory": "256Mi"},
                            },
                            "livenessProbe": probe,
                            "readinessProbe": ready,
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "volumeMounts": [
                                {"name": "tls", "mountPath": "/tls", "readOnly": True},
                                {"name": "config", "mountPath": "/config", "readOnly": True},
                                {
                                    "name": "api-token",
                                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                    "readOnly": True,
                                },
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


def _selector(namespace: str, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    skip = {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", namespace]}
    return {"matchExpressions": [skip, *(extra or [])]}


def _webhook(name: str, namespace: str, path: str, rules: list[dict[str, Any]], failure: str, ca: bytes | None,
             selector: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name,
        "clientConfig": _client(namespace, path, ca),
        "rules": rules,
        "failurePolicy": failure,
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "timeoutSeconds": 5,
        "admissionReviewVersions": ["v1"],
        "namespaceSelector": selector,
    }


def objects(
    *, namespace: str, image: str, tls: str, ca_bundle: bytes | None, failure_policy: str
) -> list[dict[str, Any]]:
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
            "data": {"podsec.yaml": CONFIG},
        },
        _deployment(namespace, image),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": NAME, "namespace": namespace, "labels": _labels()},
            "spec": {"selector": _labels(), "ports": [{"name": "https", "port": 443, "targetPort": 8443}]},
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": NAME, "namespace": namespace},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": _labels()}},
        },
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
                _webhook(
                    "pods.validate.podsec.io",
                    namespace,
                    "/validate",
                    pod_rules,
                    failure_policy,
                    ca,
                    _selector(namespace),
                ),
                _webhook(
                    "workloads.validate.podsec.io",
                    namespace,
                    "/validate",
                    workload_rules,
                    "Ignore",
                    ca,
                    _selector(namespace),
                ),
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
                        namespace,
                        "/mutate",
                        [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}],
                        "Ignore",
                        ca,
                        _selector(namespace, [{"key": "podsec.io/mutate", "operator": "In", "values": ["true"]}]),
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


def render(**kwargs: Any) -> str:
    header = "# podsec admission webhook: kubectl apply -f -\n"
    return header + yaml.safe_dump_all(objects(**kwargs), sort_keys=False, explicit_start=True)
