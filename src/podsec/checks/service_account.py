"""The service account token mounted into the pod (podsec hardened)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, Example, PodView, Severity, Violation
from podsec.checks._fix import Fix, FixOptions, Safety, SetDefault, manual
from podsec.checks._hardened import detail_describe, pod_says


def _v1_0(pod: PodView) -> list[Violation]:
    token = pod.automount_token
    if token.value is False:
        return []
    state = (
        "sets automountServiceAccountToken=true" if token.is_set else "does not set automountServiceAccountToken=false"
    )
    return [pod_says(token.path, state)]


_TITLE = "set automountServiceAccountToken: false"


def _fix(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
    token = pod.automount_token
    if token.is_set:
        return [manual((), _TITLE, "automountServiceAccountToken: true is set on purpose")]
    why = "the workload may call the Kubernetes API with its service account's token"
    return [Fix((), _TITLE, Safety.UNSAFE, (SetDefault(token.path, False),), why)]


CHECK: Check = Check(
    id="automountServiceAccountToken",
    level=CheckLevel.HARDENED,
    title="Service account token mounted automatically",
    severity=Severity.LOW,
    revisions=(((1, 0), _v1_0),),
    describe=detail_describe("service account token mounted"),
    rationale="Unless disabled, every container gets a token for the pod's service account at "
    "/var/run/secrets/kubernetes.io/serviceaccount. Most workloads never call the API; for them "
    "the token only helps an attacker move from the container to the cluster.",
    remediation="Set spec.automountServiceAccountToken: false, and mount a projected token only "
    "in pods that call the API. (The ServiceAccount's own setting is not visible in a pod "
    "manifest, so podsec asks for it on the pod.)",
    fields=("spec.automountServiceAccountToken",),
    fix=_fix,
    example=Example(
        failing="containers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="automountServiceAccountToken: false\ncontainers:\n- name: app\n  image: registry.example/app:1.0\n",
    ),
)
