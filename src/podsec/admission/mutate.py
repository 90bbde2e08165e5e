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
would stop starting), nothing Linux-only on a Windows pod, nothing on a pod whose fields do
not decode. Every operation is computed against the object as the previous ones left it (an
``add`` whose parent exists; a ``null`` mapping is replaced whole), so the patch always applies:
the API server rejects a request whose patch fails to apply, whatever the failure policy.
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


@functools.cache
def _policy() -> engine.Policy:
    return engine.select(Level.RESTRICTED, PolicyVersion(None))


@functools.cache
def _kinds() -> KindTable:
    return KindTable()


def patch_for(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON Patch of safe defaults for ``pod`` (empty when there is nothing to add)."""
    if not isinstance(pod.get("spec"), dict):
        return []
    obj = copy.deepcopy(dict(pod))  # edited as the operations are made
    pods = read_pods(Located(obj), _kinds())
    if isinstance(pods, list):
        return []  # a field of the wrong type: the API server refuses the pod anyway
    return remedies.admission_patch(obj, [(view, engine.evaluate(view, _policy())) for view in pods.views])


def encode(ops: list[dict[str, Any]]) -> str:
    return base64.b64encode(json.dumps(ops, separators=(",", ":")).encode()).decode()
