"""allowPrivilegeEscalation must be false (PSS restricted, v1.8+)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, ContainerView, PodView, Severity, Violation
from podsec.checks._fix import Fix, FixOptions, Replace, Safety, SetDefault, by_owner, manual
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


_TITLE = "set allowPrivilegeEscalation: false"


def _fix(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
    """False where unset; over an explicit true, or beside privileged / CAP_SYS_ADMIN (which the
    API server refuses together with it, until --unsafe removes them), only with --unsafe."""
    containers = {c.path: c for c in pod.containers}
    fixes = []
    for owner in by_owner(violations):
        c = containers[owner]
        ape = c.effective.allow_privilege_escalation
        if pod.is_windows:
            fixes.append(manual(owner, _TITLE, "a Linux-only field, and the pod runs on Windows"))
        elif ape.value is not None:
            why = "the container sets allowPrivilegeEscalation: true (setuid programs such as sudo stop working)"
            fixes.append(Fix(owner, _TITLE, Safety.UNSAFE, (Replace(ape.path, ape.value, False),), why))
        elif c.effective.privileged.value is True or "CAP_SYS_ADMIN" in _added(c):
            why = "the API server accepts it only once the container is not privileged and adds no CAP_SYS_ADMIN"
            fixes.append(Fix(owner, _TITLE, Safety.UNSAFE, (SetDefault(ape.path, False),), why))
        else:
            fixes.append(Fix(owner, _TITLE, Safety.SAFE, (SetDefault(ape.path, False),), admission=True))
    return fixes


def _added(c: ContainerView) -> tuple[str, ...]:
    caps = c.effective.capabilities.value
    return caps.add if caps is not None else ()


CHECK: Check = Check(
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
    fix=_fix,
)
