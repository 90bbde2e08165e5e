"""/proc masking: procMount other than Default (baseline, and restricted from v1.35)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._helpers import containers_phrase, on_container, owners, qlist, sorted_unique


def _unmasked(pod: PodView) -> list[Violation]:
    return [
        on_container(c, c.effective.proc_mount.path, value=c.effective.proc_mount.value or "")
        for c in pod.containers
        if c.effective.proc_mount.is_set and c.effective.proc_mount.value != "Default"
    ]


def _baseline_v1_35(pod: PodView) -> list[Violation]:
    return [] if pod.is_user_namespaced else _unmasked(pod)


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    values = qlist(sorted_unique(v.value for v in vs))
    return "procMount", f"{containers_phrase(owners(vs))} must not set securityContext.procMount to {values}"


_RATIONALE = (
    "The default /proc mask hides kernel interfaces from containers; Unmasked exposes them "
    "and should only be used inside a user namespace."
)
BASELINE: Check = Check(
    id="procMount",
    level=CheckLevel.BASELINE,
    title="Container unmasks /proc",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _unmasked), ((1, 35), _baseline_v1_35)),
    describe=_describe,
    rationale=_RATIONALE,
    remediation="Remove securityContext.procMount or set it to Default (from v1.35, baseline "
    "allows it in pods with spec.hostUsers: false).",
    fields=("spec.containers[*].securityContext.procMount",),
)
RESTRICTED: Check = Check(
    id="procMount_restricted",
    level=CheckLevel.RESTRICTED,
    title="Container unmasks /proc (even in a user namespace)",
    severity=Severity.MEDIUM,
    revisions=(((1, 35), _unmasked),),
    describe=_describe,
    rationale=_RATIONALE,
    remediation="Remove securityContext.procMount or set it to Default.",
    overrides=("procMount",),
    fields=("spec.containers[*].securityContext.procMount",),
)
