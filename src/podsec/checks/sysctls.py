"""Sysctls outside the safe set (PSS baseline); the safe set grows with the version."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Revision, Severity, Violation
from podsec.checks._helpers import on_pod
from podsec.model.standards import Version

ALLOWED_BY_VERSION: tuple[tuple[Version, tuple[str, ...]], ...] = (
    ((1, 0), (
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    )),
    ((1, 27), ("net.ipv4.ip_local_reserved_ports",)),
    ((1, 29), (
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    )),
    ((1, 32), ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem")),
    ((1, 37), ("net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat")),
)  # fmt: skip


def allowed_at(version: Version) -> frozenset[str]:
    return frozenset(name for since, names in ALLOWED_BY_VERSION if since <= version for name in names)


def _revision(allowed: frozenset[str]) -> Revision:
    def check(pod: PodView) -> list[Violation]:
        sysctls = pod.security_context.sysctls
        return [
            on_pod((*sysctls.path, i, "name"), value=name)
            for i, name in enumerate(sysctls.value or ())
            if name not in allowed
        ]

    return check


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    return "forbidden sysctls", ", ".join(v.value for v in vs)


CHECK: Check = Check(
    id="sysctls",
    level=CheckLevel.BASELINE,
    title="Unsafe sysctl",
    severity=Severity.MEDIUM,
    revisions=tuple((since, _revision(allowed_at(since))) for since, _ in ALLOWED_BY_VERSION),
    describe=_describe,
    rationale="Sysctls outside the namespaced safe set can change kernel behaviour for every pod on the node.",
    remediation="Remove the sysctl from spec.securityContext.sysctls, or run the workload in a "
    "namespace with a less strict policy.",
    fields=("spec.securityContext.sysctls[*].name",),
)
