"""The mutating side: safe defaults for fields the user left unset, as an RFC 6902 JSON Patch.

Only on Pod CREATE, only where the namespace asks for it (``podsec.io/mutate: "true"``). What
is added is what the checks themselves declare as their ``admission`` fixes
(`podsec.checks._fix`, the same definitions `podsec fix` applies to files), for the checks of
the restricted level that the pod fails at the newest version:

* ``spec.securityContext.seccompProfile: {type: RuntimeDefault}`` for containers without a
  profile, unless the pod sets one or carries a legacy ``seccomp.security.alpha.kubernetes.io/pod``
  annotation (Kubernetes' validation rejects a field that disagrees with it);
* per container: ``allowPrivilegeEscalation: false`` where unset, unless the container is
  privileged or adds CAP_SYS_ADMIN (the API server rejects those combinations);
* ``capabilities.drop: ["ALL"]`` when the container adds no capability and is not privileged.

Never over an explicit value, never ``runAsNonRoot``/``runAsUser`` (an image that needs root
would stop starting), nothing Linux-only on a Windows pod (``os.name: windows``, or without it
a HostProcess container or a ``kubernetes.io/os: windows`` node selector), nothing on a mirror
pod (the kubelet's record of a static pod), nothing on a pod whose fields do not decode. Every
operation is computed against the object as the previous ones left it (an ``add`` whose parent
exists; a ``null`` mapping is replaced whole), so the patch always applies: the API server
rejects a request whose patch fails to apply, whatever the failure policy.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from collections.abc import Mapping
from typing import Any

from podsec import engine, remedies
from podsec.evaluate import read_pods
from podsec.model.objects import Located
from podsec.model.standards import Level, PolicyVersion
from podsec.model.workloads import KindTable

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
MAX_PATCH_OPS = 512  # at most ~70 kB of patch (~95 kB base64): a pod of a few hundred containers


class TooLarge(Exception):
    """The patch would take more than MAX_PATCH_OPS operations."""


@functools.cache
def _policy() -> engine.Policy:
    return engine.select(Level.RESTRICTED, PolicyVersion(None))


@functools.cache
def _kinds() -> KindTable:
    return KindTable()


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


def _mirror(pod: Mapping[str, Any]) -> bool:
    meta = pod.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    return isinstance(notes, dict) and MIRROR_ANNOTATION in notes


def patch_for(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON Patch of safe defaults for ``pod`` (empty when there is nothing to add); TooLarge
    past MAX_PATCH_OPS operations (the answer, and the memory that holds it until the client has
    read it, would grow with the pod)."""
    spec = pod.get("spec")
    if not isinstance(spec, dict) or _windows(spec) or _mirror(pod):
        return []  # Linux fields are forbidden on Windows pods; a mirror pod must stay what runs
    obj = copy.deepcopy(dict(pod))  # edited as the operations are made
    pods = read_pods(Located(obj), _kinds())
    if isinstance(pods, list):
        return []  # a field of the wrong type: the API server refuses the pod anyway
    views = [(view, engine.evaluate(view, _policy())) for view in pods.views]
    try:
        return remedies.admission_patch(obj, views, limit=MAX_PATCH_OPS)
    except remedies.TooManyOperations:
        raise TooLarge from None


def encode(ops: list[dict[str, Any]]) -> str:
    return base64.b64encode(json.dumps(ops, separators=(",", ":")).encode()).decode()
