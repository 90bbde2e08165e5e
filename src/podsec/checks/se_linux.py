"""SELinux options: custom types, users and roles (PSS baseline)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._helpers import of_kind, on_container, on_pod, plural, qlist, sorted_unique, who
from podsec.model.paths import Path
from podsec.model.security import SELinuxOptions

_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_TYPES_1_31 = _TYPES_1_0 | {"container_engine_t"}


class _Part(Enum):
    TYPE = "type"
    USER = "user"
    ROLE = "role"


def _bad(opts: SELinuxOptions, path: Path, allowed: frozenset[str]) -> list[tuple[Path, _Part, str]]:
    bad = []
    if opts.type not in allowed:
        bad.append(((*path, "type"), _Part.TYPE, opts.type))
    if opts.user:
        bad.append(((*path, "user"), _Part.USER, opts.user))
    if opts.role:
        bad.append(((*path, "role"), _Part.ROLE, opts.role))
    return bad


def _check(pod: PodView, allowed: frozenset[str]) -> list[Violation]:
    found = []
    opts = pod.security_context.se_linux_options
    if opts.value is not None:
        found += [on_pod(p, part, value) for p, part, value in _bad(opts.value, opts.path, allowed)]
    for c in pod.containers:
        own = c.effective.own("se_linux_options")
        if own.value is not None:
            found += [on_container(c, p, part, value) for p, part, value in _bad(own.value, own.path, allowed)]
    return found


def _v1_0(pod: PodView) -> list[Violation]:
    return _check(pod, _TYPES_1_0)


def _v1_31(pod: PodView) -> list[Violation]:
    return _check(pod, _TYPES_1_31)


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    what = []
    types = sorted_unique(v.value for v in of_kind(vs, _Part.TYPE))
    if types:
        what.append(f"{plural(len(types), 'type', 'types')} {qlist(types)}")
    if of_kind(vs, _Part.USER):
        what.append("user may not be set")
    if of_kind(vs, _Part.ROLE):
        what.append("role may not be set")
    return "seLinuxOptions", f"{who(vs)} set forbidden securityContext.seLinuxOptions: {'; '.join(what)}"


CHECK: Check = Check(
    id="seLinuxOptions",
    level=CheckLevel.BASELINE,
    title="Custom SELinux type, user or role",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _v1_0), ((1, 31), _v1_31)),
    describe=_describe,
    rationale="A custom SELinux user, role or type can lift the confinement the container "
    "runtime applies to every container.",
    remediation="Remove seLinuxOptions.user and .role; set seLinuxOptions.type only to "
    "container_t, container_init_t, container_kvm_t or (v1.31+) container_engine_t.",
    fields=(
        "spec.securityContext.seLinuxOptions",
        "spec.containers[*].securityContext.seLinuxOptions",
    ),
)
