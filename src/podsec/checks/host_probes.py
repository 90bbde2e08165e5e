"""Probe and lifecycle handlers that target another host (PSS baseline, v1.34+)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._helpers import on_container, plural, qlist, sorted_unique


def _v1_34(pod: PodView) -> list[Violation]:
    return [on_container(c, h.path, value=h.value) for c in pod.containers for h in c.handler_hosts]


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    names, hosts = sorted_unique(v.name for v in vs), sorted_unique(v.value for v in vs)
    return "probe or lifecycle host", (
        f"{plural(len(names), 'container', 'containers')} {qlist(names)} "
        f"{plural(len(names), 'uses', 'use')} "
        f"{plural(len(hosts), 'probe or lifecycle host', 'probe or lifecycle hosts')} {qlist(hosts)}"
    )


CHECK: Check = Check(
    id="hostProbesAndHostLifecycle",
    level=CheckLevel.BASELINE,
    title="Probe or lifecycle handler targets another host",
    severity=Severity.MEDIUM,
    revisions=(((1, 34), _v1_34),),
    describe=_describe,
    rationale="The kubelet sends httpGet and tcpSocket probes and lifecycle hooks from the node; "
    "a custom host turns it into a proxy that can reach addresses the pod itself cannot.",
    remediation="Remove the host field from httpGet/tcpSocket probes and lifecycle handlers so "
    "they target the pod's own IP.",
    fields=(
        "spec.containers[*].livenessProbe.httpGet.host",
        "spec.containers[*].livenessProbe.tcpSocket.host",
        "spec.containers[*].lifecycle.postStart.httpGet.host",
    ),
)
