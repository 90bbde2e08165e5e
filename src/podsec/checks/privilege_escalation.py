"""allowPrivilegeEscalation must be false (PSS restricted, v1.8+)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._helpers import containers_phrase, on_container, owners


def _v1_8(pod: PodView) -> list[Violation]:
    return [
        on_container(c, c.effective.allow_privilege_escalation.path)
        for c in pod.containers
        if c.effective.allow_privilege_escalation.value is not False
    ]


def _v1_25(pod: PodView) -> list[Violation]:
    return [] if pod.is_windows else _v1_8(pod)


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    return "allowPrivilegeEscalation != false", (
        f"{containers_phrase(owners(vs))} must set securityContext.allowPrivilegeEscalation=false"
    )


CHECK = Check(
    id="allowPrivilegeEscalation",
    level=CheckLevel.RESTRICTED,
    title="Container may escalate privileges",
    severity=Severity.MEDIUM,
    revisions=(((1, 8), _v1_8), ((1, 25), _v1_25)),
    describe=_describe,
    rationale="Unless allowPrivilegeEscalation is false, the kernel's no_new_privs flag is not "
    "set and setuid binaries or file capabilities can give a process more privilege than its parent.",
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
    fields=("spec.containers[*].securityContext.allowPrivilegeEscalation",),
)
