"""The mutating side: safe defaults for fields the user left unset, as an RFC 6902 JSON Patch.

Only on Pod CREATE, only where the namespace asks for it (``podsec.io/mutate: "true"``),
never over an explicit value, never ``runAsNonRoot``/``runAsUser`` (an image that needs
root would stop starting), nothing Linux-only on a Windows pod (``os.name: windows``, or
without it a HostProcess container or a ``kubernetes.io/os: windows`` node selector), and
nothing on a mirror pod (the kubelet's record of a static pod):

* ``spec.securityContext.seccompProfile: {type: RuntimeDefault}`` when the pod sets none and
  carries no legacy ``seccomp.security.alpha.kubernetes.io/pod`` annotation (Kubernetes'
  validation, ``validateSeccompAnnotationsAndFields``, rejects a field that disagrees with
  that annotation: ``unconfined`` with a RuntimeDefault field makes the pod invalid);
* per container (init and regular): ``allowPrivilegeEscalation: false`` unless the container
  is privileged or adds CAP_SYS_ADMIN (the API server rejects those combinations);
* ``capabilities.drop: ["ALL"]`` when the container adds no capability and is not privileged.

Every operation is an ``add`` whose parent exists in the object (a ``null`` mapping is
replaced whole), so the patch always applies: the API server rejects a request whose patch
fails to apply, whatever the failure policy. Nothing added touches a field that Kubernetes
compares with an annotation (container seccomp profiles, AppArmor profiles).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any


def _escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(*parts: str | int) -> str:
    return "".join("/" + _escape(p) for p in parts)


SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
MAX_PATCH_OPS = 512  # at most ~70 kB of patch (~95 kB base64): a pod of a few hundred containers


def _container_ops(kind: str, i: int, c: Mapping[str, Any]) -> list[dict[str, Any]]:
    sc = c.get("securityContext")
    if sc is not None and not isinstance(sc, dict):
        return []
    sc = sc or {}
    caps = sc.get("capabilities")
    if caps is not None and not isinstance(caps, dict):
        return []
    caps = caps or {}
    adds = caps.get("add") or []
    drops = caps.get("drop")
    if not isinstance(adds, list) or (drops is not None and not isinstance(drops, list)):
        return []
    privileged = sc.get("privileged") is True
    wanted: dict[str, Any] = {}
    if sc.get("allowPrivilegeEscalation") is None and not privileged and "CAP_SYS_ADMIN" not in adds:
        wanted["allowPrivilegeEscalation"] = False
    drop_all = not privileged and not adds and "ALL" not in (drops or [])
    base = ("spec", kind, i, "securityContext")
    if c.get("securityContext") is None:  # absent or null: add the whole mapping
        if drop_all:
            wanted["capabilities"] = {"drop": ["ALL"]}
        return [{"op": "add", "path": pointer(*base), "value": wanted}] if wanted else []
    ops = [{"op": "add", "path": pointer(*base, k), "value": v} for k, v in wanted.items()]
    if drop_all:
        if sc.get("capabilities") is None:
            ops.append({"op": "add", "path": pointer(*base, "capabilities"), "value": {"drop": ["ALL"]}})
        elif drops is None:
            ops.append({"op": "add", "path": pointer(*base, "capabilities", "drop"), "value": ["ALL"]})
        else:
            ops.append({"op": "add", "path": pointer(*base, "capabilities", "drop", "-"), "value": "ALL"})
    return ops


def _host_process(sc: Any) -> bool:
    options = sc.get("windowsOptions") if isinstance(sc, dict) else None
    return isinstance(options, dict) and options.get("hostProcess") is True


def _windows(spec: Mapping[str, Any]) -> bool:
    """A Windows pod: ``os.name: windows`` (Kubernetes then forbids Linux fields), or, where the
    pod does not say, a HostProcess container or a node selector for Windows nodes."""
    os_spec = spec.get("os")
    if isinstance(os_spec, dict) and os_spec.get("name") == "windows":
        return True
    selector = spec.get("nodeSelector")
    if isinstance(selector, dict) and selector.get("kubernetes.io/os") == "windows":
        return True
    if _host_process(spec.get("securityContext")):
        return True
    for kind in ("initContainers", "containers"):
        items = spec.get(kind)
        if isinstance(items, list) and any(
            isinstance(c, dict) and _host_process(c.get("securityContext")) for c in items
        ):
            return True
    return False


class TooLarge(Exception):
    """The patch would take more than MAX_PATCH_OPS operations."""


def patch_for(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON Patch of safe defaults for ``pod`` (empty when there is nothing to add); TooLarge
    past MAX_PATCH_OPS operations (the answer, and the memory that holds it until the client has
    read it, would grow with the pod)."""
    spec = pod.get("spec")
    if not isinstance(spec, dict) or _windows(spec):
        return []  # seccomp, allowPrivilegeEscalation and capabilities are Linux's (forbidden with os.name windows)
    meta = pod.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(notes, dict) and MIRROR_ANNOTATION in notes:
        return []  # the kubelet's record of a static pod: a patch would make it differ from what runs
    ops: list[dict[str, Any]] = []
    legacy = isinstance(notes, dict) and SECCOMP_POD_ANNOTATION in notes
    psc = spec.get("securityContext")
    if legacy:
        pass  # the annotation decides; a field that disagrees with it would make the pod invalid
    elif psc is None:
        ops.append(
            {"op": "add", "path": "/spec/securityContext", "value": {"seccompProfile": {"type": "RuntimeDefault"}}}
        )
    elif isinstance(psc, dict) and psc.get("seccompProfile") is None:
        ops.append({"op": "add", "path": "/spec/securityContext/seccompProfile", "value": {"type": "RuntimeDefault"}})
    for kind in ("initContainers", "containers"):
        items = spec.get(kind)
        if isinstance(items, list):
            for i, c in enumerate(items):
                if isinstance(c, dict):
                    ops += _container_ops(kind, i, c)
                    if len(ops) > MAX_PATCH_OPS:
                        raise TooLarge
    return ops


def encode(ops: list[dict[str, Any]]) -> str:
    return base64.b64encode(json.dumps(ops, separators=(",", ":")).encode()).decode()
