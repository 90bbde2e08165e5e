"""What the API server does to a Pod before Pod Security Admission sees it (pure).

PSA in a cluster evaluates the object after defaulting and ``PrepareForCreate``, and two
of those steps change what it reports for a bare Pod (not for workload templates):

* ``SetDefaults_Pod`` (pkg/apis/core/v1/defaults.go, ``defaultHostNetworkPorts``): with
  ``hostNetwork: true``, every port of an init or regular container whose ``hostPort`` is
  unset or 0 gets ``hostPort = containerPort``;
* ``applyAppArmorVersionSkew`` (pkg/registry/core/pod/strategy.go): on a pod that is not
  ``os.name: windows``, a container (of any kind) with a
  ``container.apparmor.security.beta.kubernetes.io/<name>`` annotation and no
  ``appArmorProfile`` of its own gets the field the annotation stands for
  (``ApparmorFieldForAnnotation``: ``unconfined``, ``runtime/default``, ``localhost/<p>``),
  unless that field would be invalid or equals the pod-level profile.

Both change PSA's messages, never its verdicts (hostNetwork already fails baseline; the
annotation is judged either way). Checked against a real API server by tests/kube.
The volume ``emptyDir`` default is applied by the volume checks themselves (spec §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

APPARMOR_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_MAX_LOCALHOST_PROFILE = 4095


def apparmor_field(annotation: str) -> dict[str, str] | None:
    """The appArmorProfile an annotation value stands for, or None (unknown or invalid)."""
    if annotation == "unconfined":
        return {"type": "Unconfined"}
    if annotation == "runtime/default":
        return {"type": "RuntimeDefault"}
    if annotation.startswith("localhost/"):
        name = annotation[len("localhost/") :]
        # ValidateAppArmorProfileField: not empty, not padded with whitespace, at most PATH_MAX - 1
        if name and name.strip() == name and len(name) <= _MAX_LOCALHOST_PROFILE:
            return {"type": "Localhost", "localhostProfile": name}
    return None


def _same_profile(field: Mapping[str, Any], pod_profile: Any) -> bool:
    if not isinstance(pod_profile, Mapping):
        return False
    return (field.get("type"), field.get("localhostProfile")) == (
        pod_profile.get("type") or "",
        pod_profile.get("localhostProfile"),
    )


def _ports(container: Mapping[str, Any]) -> list[Any] | None:
    """The ports with hostPort defaulted from containerPort, or None when nothing changes."""
    ports = container.get("ports")
    if not isinstance(ports, list) or not any(isinstance(p, Mapping) and not p.get("hostPort") for p in ports):
        return None
    changed = []
    for p in ports:
        if isinstance(p, Mapping) and not p.get("hostPort") and isinstance(p.get("containerPort"), int):
            p = {**p, "hostPort": p["containerPort"]}
        changed.append(p)
    return changed


def _container(c: Mapping[str, Any], ports: bool, annotation: Any, pod_profile: Any) -> Mapping[str, Any]:
    """One container as prepared: host ports defaulted (``ports``), the AppArmor annotation synced."""
    updated = dict(c)
    if ports and (defaulted := _ports(c)) is not None:
        updated["ports"] = defaulted
    sc = c.get("securityContext")
    sc = sc if isinstance(sc, Mapping) else {}
    if isinstance(annotation, str) and sc.get("appArmorProfile") is None:
        field = apparmor_field(annotation)
        if field is not None and not _same_profile(field, pod_profile):
            updated["securityContext"] = {**sc, "appArmorProfile": field}
    return updated if updated != c else c


def prepare_pod(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    """``pod`` as PSA sees it on CREATE; the same object when nothing changes (the common case)."""
    spec = pod.get("spec")
    if not isinstance(spec, Mapping):
        return pod
    meta = pod.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    apparmor: dict[Any, Any] = {}
    if isinstance(annotations, Mapping):
        apparmor = {k[len(APPARMOR_PREFIX) :]: v for k, v in annotations.items() if str(k).startswith(APPARMOR_PREFIX)}
    host_network = spec.get("hostNetwork") is True
    os_spec = spec.get("os")
    if isinstance(os_spec, Mapping) and os_spec.get("name") == "windows":
        apparmor = {}
    if not host_network and not apparmor:
        return pod
    return _prepared(pod, spec, host_network, apparmor)


def _prepared(
    pod: Mapping[str, Any], spec: Mapping[str, Any], host_network: bool, apparmor: Mapping[Any, Any]
) -> Mapping[str, Any]:
    """`prepare_pod` once there is something to do: each container prepared (``pod`` when none changes)."""
    pod_sc = spec.get("securityContext")
    pod_profile = pod_sc.get("appArmorProfile") if isinstance(pod_sc, Mapping) else None
    new_spec: dict[str, Any] = dict(spec)
    changed = False
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        containers = spec.get(kind)
        if isinstance(containers, list):
            ports = host_network and kind != "ephemeralContainers"
            new_spec[kind] = [
                _container(c, ports, apparmor.get(c.get("name")), pod_profile) if isinstance(c, Mapping) else c
                for c in containers
            ]
            changed = changed or any(a is not b for a, b in zip(new_spec[kind], containers, strict=True))
    return {**pod, "spec": new_spec} if changed else pod
