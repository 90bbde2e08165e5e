"""Linux capabilities: the baseline allow-list and the restricted drop-ALL rule."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._fix import (
    AddToList,
    Fix,
    FixOptions,
    Replace,
    Safety,
    by_owner,
    manual,
    removal,
)
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


BASELINE: Check = Check(
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
    fix=removal("remove the added capability", "the workload may use the capability"),
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


_DROP_TITLE = 'add "ALL" to capabilities.drop'
_REMOVE_ADDED = removal("remove the added capability", "the workload may use the capability")


def _fix_restricted(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
    """``ALL`` merged into the drop list (an added NET_BIND_SERVICE stays: restricted allows it);
    a misspelled ``all`` corrected in place; other added capabilities removed only with --unsafe.

    The webhook adds ``ALL`` only to a container that adds nothing and is not privileged."""
    containers = {c.path: c for c in pod.containers}
    fixes = list(_REMOVE_ADDED(pod, of_kind(violations, _Kind.ADD), options))
    for owner in by_owner(of_kind(violations, _Kind.DROP)):
        c = containers[owner]
        if pod.is_windows:
            fixes.append(manual(owner, _DROP_TITLE, "a Linux-only field, and the pod runs on Windows"))
            continue
        caps = c.effective.capabilities
        drop = caps.value.drop if caps.value is not None else ()
        spelled = [Replace((*caps.path, "drop", i), d, "ALL") for i, d in enumerate(drop) if _is_all(d)]
        if spelled:
            fixes.append(Fix(owner, 'spell capabilities.drop "ALL"', Safety.SAFE, (spelled[0],)))
            continue
        quiet = c.effective.privileged.value is not True and not (caps.value and caps.value.add)
        edit = AddToList((*caps.path, "drop"), ("ALL",))
        fixes.append(Fix(owner, _DROP_TITLE, Safety.SAFE, (edit,), admission=quiet))
    return fixes


def _is_all(name: str) -> bool:
    return name.strip().upper().removeprefix("CAP_") == "ALL"


RESTRICTED: Check = Check(
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
    fix=_fix_restricted,
    fields=(
        "spec.containers[*].securityContext.capabilities.drop",
        "spec.containers[*].securityContext.capabilities.add",
    ),
)
