"""A read-only root filesystem (podsec hardened)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, Example, Platform, PodView, Severity, Violation
from podsec.checks._fix import Fix, FixOptions, Safety, SetDefault, by_owner, manual
from podsec.checks._hardened import container_says, detail_describe


def _v1_0(pod: PodView) -> list[Violation]:
    found = []
    for c in pod.containers:
        ro = c.effective.read_only_root_filesystem
        if ro.value is not True:
            state = "sets readOnlyRootFilesystem=false" if ro.is_set else "does not set readOnlyRootFilesystem=true"
            found.append(container_says(c, ro.path, state))
    return found


_TITLE = "set readOnlyRootFilesystem: true"


def _fix(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
    containers = {c.path: c for c in pod.containers}
    fixes = []
    for owner in by_owner(violations):
        ro = containers[owner].effective.read_only_root_filesystem
        if ro.is_set:
            fixes.append(manual(owner, _TITLE, "readOnlyRootFilesystem: false is set on purpose"))
        else:
            why = "the container may write to its root filesystem: mount an emptyDir where it writes"
            fixes.append(Fix(owner, _TITLE, Safety.UNSAFE, (SetDefault(ro.path, True),), why))
    return fixes


CHECK: Check = Check(
    id="readOnlyRootFilesystem",
    level=CheckLevel.HARDENED,
    title="Root filesystem is writable",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _v1_0),),
    describe=detail_describe("writable root filesystem"),
    rationale="A writable root filesystem lets an attacker who gets code execution drop tools, "
    "modify binaries or persist changes for the life of the container. Immutable containers also "
    "make drift visible.",
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the "
    "application must write (for example /tmp).",
    fields=("spec.containers[*].securityContext.readOnlyRootFilesystem",),
    fix=_fix,
    platform=Platform.LINUX,
    example=Example(
        failing="containers:\n- name: app\n  image: registry.example/app:1.0\n",
        fixed="containers:\n- name: app\n  image: registry.example/app:1.0\n  securityContext:\n"
        "    readOnlyRootFilesystem: true\n  volumeMounts:\n  - name: tmp\n    mountPath: /tmp\n"
        "volumes:\n- name: tmp\n  emptyDir: {}\n",
    ),
)
