"""Realistic AdmissionReview payloads (shapes from research/admission.md §1.2, §1.8, §5.2)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

CONTROLLER = {
    "username": "system:serviceaccount:kube-system:replicaset-controller",
    "uid": "0b2e3f0a-1111-2222-3333-444455556666",
    "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
}
ALICE = {"username": "alice@example.com", "groups": ["system:authenticated"]}


def pod(
    name: str = "", *, privileged: bool = False, restricted: bool = False, image: str = "registry.example/web:1.0"
) -> dict[str, Any]:
    """A defaulted Pod, as a validating webhook sees it (generateName when name is empty)."""
    container: dict[str, Any] = {
        "name": "web",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "resources": {},
        "volumeMounts": [
            {
                "name": "kube-api-access-x2x9q",
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            }
        ],
    }
    spec: dict[str, Any] = {
        "containers": [container],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "volumes": [
            {
                "name": "kube-api-access-x2x9q",
                "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]},
            }
        ],
    }
    if privileged:
        container["securityContext"] = {"privileged": True}
    if restricted:
        spec["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
        container["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    meta: dict[str, Any] = {"namespace": "shop", "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6d"}}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = "web-7d4b9c8f6d-"
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d4b9c8f6d",
                "uid": "9f1c",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def as_validated(obj: dict[str, Any], suffix: str) -> dict[str, Any]:
    """``obj`` as a *validating* webhook sees it: by then the API server has generated the name
    and filled in uid and creationTimestamp (``Store.Create`` runs ``BeforeCreate`` before the
    validating admission, and ``AdmissionToValidateObjectFunc`` puts the generated name in the
    request). Mutating webhooks see the object before that, with generateName only."""
    obj = copy.deepcopy(obj)
    meta = obj["metadata"]
    meta["name"] = meta.get("generateName", "pod-") + suffix
    meta["uid"] = str(uuid.uuid5(uuid.NAMESPACE_DNS, meta["name"]))
    meta["creationTimestamp"] = "2026-11-23T10:00:00Z"
    return obj


def deployment(*, privileged: bool = False) -> dict[str, Any]:
    template = pod("x", privileged=privileged)
    template["metadata"] = {"labels": {"app": "web"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    subresource: str = "",
    user: dict[str, Any] | None = None,
    dry_run: bool = False,
    namespace: str = "shop",
) -> dict[str, Any]:
    kind = (obj or {}).get("kind", "Pod")
    group, _, version = (obj or {}).get("apiVersion", "v1").rpartition("/")
    resource = {"Pod": "pods", "Deployment": "deployments", "CronJob": "cronjobs", "Service": "services"}.get(
        kind, kind.lower() + "s"
    )
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": ((obj or {}).get("metadata") or {}).get("name", ""),
        "namespace": namespace,
        "operation": operation,
        "userInfo": user or (CONTROLLER if kind == "Pod" else ALICE),
        "object": copy.deepcopy(obj),
        "oldObject": copy.deepcopy(old),
        "dryRun": dry_run,
        "options": {
            "apiVersion": "meta.k8s.io/v1",
            "kind": "CreateOptions" if operation == "CREATE" else "UpdateOptions",
        },
    }
    if subresource:
        request["subResource"] = subresource
        request["requestSubResource"] = subresource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def restricted_labels(**extra: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": "shop", "pod-security.kubernetes.io/enforce": "restricted", **extra}
