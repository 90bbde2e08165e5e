"""Linux capabilities: the baseline allow-list and the restricted drop-ALL rule."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._helpers import containers_phrase, of_kind, on_container, owners, qlist, sorted_unique

BASELINE_ALLOWED = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
        "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip


class _Kind(Enum):
    ADD = "a capability added"
    DROP = "ALL not dropped"


def _added(pod: PodView, allowed: frozenset[str]) -> list[Violation]:
    found = []
    for c in pod.containers:
        caps = c.effective.capabilities
        if caps.value is None:
            continue
        for i, cap in enumerate(caps.value.add):
            if cap not in allowed:
                found.append(on_container(c, (*caps.path, "add", i), _Kind.ADD, cap))
    return found


def _add_phrase(vs: Sequence[Violation]) -> str:
    caps = qlist(sorted_unique(v.value for v in vs))
    return f"{containers_phrase(owners(vs))} must not include {caps} in securityContext.capabilities.add"


def _baseline_v1_0(pod: PodView) -> list[Violation]:
    return _added(pod, BASELINE_ALLOWED)


def _describe_baseline(vs: Sequence[Violation]) -> tuple[str, str]:
    return "non-default capabilities", _add_phrase(vs)


BASELINE = Check(
    id="capabilities_baseline",
    level=CheckLevel.BASELINE,
    title="Container adds a capability beyond the default set",
    severity=Severity.HIGH,
    revisions=(((1, 0), _baseline_v1_0),),
    describe=_describe_baseline,
    rationale="Capabilities beyond the container runtime's default set (such as SYS_ADMIN or "
    "NET_RAW) give a container kernel powers it can use to attack the node or its neighbours.",
    remediation="Remove the entries from securityContext.capabilities.add; only "
    + ", ".join(sorted(BASELINE_ALLOWED))
    + " may be added.",
    fields=("spec.containers[*].securityContext.capabilities.add",),
)

_RESTRICTED_ALLOWED = frozenset({"NET_BIND_SERVICE"})


def _restricted_v1_22(pod: PodView) -> list[Violation]:
    found = []
    for c in pod.containers:
        caps = c.effective.capabilities
        if caps.value is None or "ALL" not in caps.value.drop:
            where = (*caps.path, "drop")
            found.append(on_container(c, where, _Kind.DROP))
    return found + _added(pod, _RESTRICTED_ALLOWED)


def _restricted_v1_25(pod: PodView) -> list[Violation]:
    return [] if pod.is_windows else _restricted_v1_22(pod)


def _describe_restricted(vs: Sequence[Violation]) -> tuple[str, str]:
    parts = []
    drops = owners(of_kind(vs, _Kind.DROP))
    if drops:
        parts.append(f'{containers_phrase(drops)} must set securityContext.capabilities.drop=["ALL"]')
    adds = of_kind(vs, _Kind.ADD)
    if adds:
        parts.append(_add_phrase(adds))
    return "unrestricted capabilities", "; ".join(parts)


RESTRICTED = Check(
    id="capabilities_restricted",
    level=CheckLevel.RESTRICTED,
    title="Container does not drop ALL capabilities, or adds one other than NET_BIND_SERVICE",
    severity=Severity.MEDIUM,
    revisions=(((1, 22), _restricted_v1_22), ((1, 25), _restricted_v1_25)),
    describe=_describe_restricted,
    rationale="Dropping every capability and adding back only NET_BIND_SERVICE leaves a "
    "compromised process with the least kernel privilege.",
    remediation='Set securityContext.capabilities.drop: ["ALL"] on every container and add '
    "nothing but NET_BIND_SERVICE.",
    overrides=("capabilities_baseline",),
    fields=(
        "spec.containers[*].securityContext.capabilities.drop",
        "spec.containers[*].securityContext.capabilities.add",
    ),
)
