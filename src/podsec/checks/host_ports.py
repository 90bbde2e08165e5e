"""Host ports (PSS baseline)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._fix import removal
from podsec.checks._helpers import containers_phrase, on_container, owners, plural, sorted_unique


def _v1_0(pod: PodView) -> list[Violation]:
    return [on_container(c, p.path, value=str(p.value)) for c in pod.containers for p in c.host_ports]


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    names, ports = owners(vs), sorted_unique(v.value for v in vs)  # sorted as strings, like PSA
    return "hostPort", (
        f"{containers_phrase(names)} {plural(len(names), 'uses', 'use')} "
        f"{plural(len(ports), 'hostPort', 'hostPorts')} {', '.join(ports)}"
    )


CHECK: Check = Check(
    id="hostPorts",
    level=CheckLevel.BASELINE,
    title="Container binds a host port",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _v1_0),),
    describe=_describe,
    rationale="A hostPort binds the node's network interface, bypassing network policy and "
    "limiting scheduling; it exposes the workload outside the cluster's service model.",
    remediation="Remove ports[*].hostPort (or set it to 0) and expose the workload through a Service.",
    fields=("spec.containers[*].ports[*].hostPort",),
    fix=removal("remove hostPort", "clients that reach the node's port stop working (use a Service)"),
)
