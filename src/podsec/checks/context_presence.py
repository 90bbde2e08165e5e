"""securityContext written at all: on the pod, and on every container (podsec hardened)."""

from __future__ import annotations

from podsec.checks._base import Check, CheckLevel, Example, Platform, PodView, Severity, Violation
from podsec.checks._hardened import container_says, detail_describe, pod_says


def _pod(pod: PodView) -> list[Violation]:
    sc = pod.security_context
    return [] if sc.present else [pod_says(sc.path, "has no securityContext")]


def _containers(pod: PodView) -> list[Violation]:
    return [
        container_says(c, c.effective.path, "has no securityContext of its own")
        for c in pod.containers
        if not c.effective.present
    ]


POD: Check = Check(
    id="podSecurityContextMissing",
    level=CheckLevel.HARDENED,
    title="Pod has no securityContext",
    severity=Severity.LOW,
    revisions=(((1, 0), _pod),),
    describe=detail_describe("pod securityContext not set"),
    rationale="Without a pod-level securityContext, nothing states the pod's identity and "
    "confinement; every container falls back to the image's and the runtime's defaults "
    "(typically root, no seccomp profile). Setting it once on the pod covers every container, "
    "init and ephemeral ones included.",
    remediation="Add spec.securityContext with at least runAsNonRoot: true and seccompProfile: {type: RuntimeDefault}.",
    fields=("spec.securityContext",),
    example=Example(
        failing="containers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="securityContext:\n  runAsNonRoot: true\n  seccompProfile:\n    type: RuntimeDefault\n"
        "containers:\n- name: app\n  image: registry.example/app:1.0\n",
    ),
)

CONTAINER: Check = Check(
    id="containerSecurityContextMissing",
    level=CheckLevel.HARDENED,
    title="Container has no securityContext of its own",
    severity=Severity.LOW,
    revisions=(((1, 0), _containers),),
    describe=detail_describe("container securityContext not set"),
    rationale="Some settings exist only per container (allowPrivilegeEscalation, capabilities, "
    "readOnlyRootFilesystem, privileged); a container without its own securityContext leaves "
    "all of them at their permissive defaults, whatever the pod says.",
    remediation="Give every container, init and ephemeral containers included, a securityContext "
    "with allowPrivilegeEscalation: false, capabilities: {drop: [ALL]} and readOnlyRootFilesystem: true.",
    fields=("spec.containers[*].securityContext",),
    platform=Platform.LINUX,  # what it is for (capabilities, allowPrivilegeEscalation ...) is Linux-only
    example=Example(
        failing="containers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="containers:\n- name: app\n  image: registry.example/app:1.0\n  securityContext:\n"
        "    allowPrivilegeEscalation: false\n",
    ),
)
