"""Privileged containers (PSS baseline)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._fix import removal
from podsec.checks._helpers import containers_phrase, on_container, owners


def _v1_0(pod: PodView) -> list[Violation]:
    return [
        on_container(c, c.effective.privileged.path) for c in pod.containers if c.effective.privileged.value is True
    ]


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    return "privileged", f"{containers_phrase(owners(vs))} must not set securityContext.privileged=true"


CHECK: Check = Check(
    id="privileged",
    level=CheckLevel.BASELINE,
    title="Container runs privileged",
    severity=Severity.CRITICAL,
    revisions=(((1, 0), _v1_0),),
    describe=_describe,
    rationale="A privileged container has every capability and access to all host devices; "
    "escaping to the node is trivial.",
    remediation="Remove securityContext.privileged or set it to false.",
    fields=("spec.containers[*].securityContext.privileged",),
    fix=removal("remove privileged: true", "the container may need the host's devices or kernel powers"),
)
