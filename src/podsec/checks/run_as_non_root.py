"""Containers must run as non-root: runAsNonRoot must be true (PSS restricted)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._helpers import containers_phrase, of_kind, on_container, on_pod, owners, who


class _Kind(Enum):
    EXPLICIT = "set to false"
    IMPLICIT = "not set to true"


def _v1_0(pod: PodView) -> list[Violation]:
    found = []
    pod_value = pod.security_context.run_as_non_root
    if pod_value.value is False:
        found.append(on_pod(pod_value.path, _Kind.EXPLICIT))
    for c in pod.containers:
        own = c.effective.own("run_as_non_root")
        if own.value is False:
            found.append(on_container(c, own.path, _Kind.EXPLICIT))
        elif own.value is None and pod_value.value is not True:
            found.append(on_container(c, own.path, _Kind.IMPLICIT))
    return found


def _v1_35(pod: PodView) -> list[Violation]:
    return [] if pod.is_user_namespaced else _v1_0(pod)


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    explicit = of_kind(vs, _Kind.EXPLICIT)
    if explicit:
        return "runAsNonRoot != true", f"{who(explicit)} must not set securityContext.runAsNonRoot=false"
    return "runAsNonRoot != true", (
        f"pod or {containers_phrase(owners(vs))} must set securityContext.runAsNonRoot=true"
    )


CHECK = Check(
    id="runAsNonRoot",
    level=CheckLevel.RESTRICTED,
    title="Container may run as root",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _v1_0), ((1, 35), _v1_35)),
    describe=_describe,
    rationale="A process running as root in a container is root on the node if it escapes; "
    "runAsNonRoot makes the kubelet refuse to start a container whose user is 0.",
    remediation="Set spec.securityContext.runAsNonRoot: true on the pod (and do not set it to "
    "false in any container); make sure the image runs as a non-zero UID.",
    fields=("spec.securityContext.runAsNonRoot", "spec.containers[*].securityContext.runAsNonRoot"),
)
