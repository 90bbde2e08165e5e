"""runAsUser must not be 0 (PSS restricted, v1.23+)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._fix import Fix, FixOptions, Replace, Safety, by_owner, manual
from podsec.checks._helpers import on_container, on_pod, who


def _v1_23(pod: PodView) -> list[Violation]:
    found = []
    pod_value = pod.security_context.run_as_user
    if pod_value.value == 0:
        found.append(on_pod(pod_value.path))
    for c in pod.containers:
        own = c.effective.own("run_as_user")
        if own.value == 0 and own.is_set:
            found.append(on_container(c, own.path))
    return found


def _v1_35(pod: PodView) -> list[Violation]:
    return [] if pod.is_user_namespaced else _v1_23(pod)


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    return "runAsUser=0", f"{who(vs)} must not set runAsUser=0"


def _fix(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
    """No UID is invented: only the one --run-as-user names replaces 0."""
    uid = options.run_as_user
    fixes = []
    for owner, vs in by_owner(violations).items():
        if uid is None:
            fixes.append(manual(owner, "set a non-zero runAsUser", "which UID? (give one with --run-as-user)"))
        else:
            edits = tuple(Replace(v.path, 0, uid) for v in vs)
            why = "verify that the image works as that user (file ownership, ports below 1024)"
            fixes.append(Fix(owner, f"set runAsUser: {uid}", Safety.UNSAFE, edits, why))
    return fixes


CHECK: Check = Check(
    id="runAsUser",
    level=CheckLevel.RESTRICTED,
    title="Container runs as UID 0",
    severity=Severity.HIGH,
    revisions=(((1, 23), _v1_23), ((1, 35), _v1_35)),
    describe=_describe,
    rationale="UID 0 is root; a container that runs as root has far more power over its own "
    "file system and, after an escape, over the node.",
    remediation="Set runAsUser to a non-zero UID, or remove it and let the image's non-root USER apply.",
    fields=("spec.securityContext.runAsUser", "spec.containers[*].securityContext.runAsUser"),
    fix=_fix,
)
