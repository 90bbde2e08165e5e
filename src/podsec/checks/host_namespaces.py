"""Sharing the host's network, PID or IPC namespace (PSS baseline)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._fix import removal
from podsec.checks._helpers import on_pod


def _v1_0(pod: PodView) -> list[Violation]:
    return [
        on_pod(field.path, value=name)
        for name, field in (("hostNetwork", pod.host_network), ("hostPID", pod.host_pid), ("hostIPC", pod.host_ipc))
        if field.value is True
    ]


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    return "host namespaces", ", ".join(f"{v.value}=true" for v in vs)


CHECK = Check(
    id="hostNamespaces",
    level=CheckLevel.BASELINE,
    title="Pod shares a host namespace",
    severity=Severity.HIGH,
    revisions=(((1, 0), _v1_0),),
    describe=_describe,
    rationale="Sharing the host's network, PID or IPC namespace lets a container see and reach "
    "host processes, interfaces and shared memory, and weakens isolation between workloads.",
    remediation="Remove spec.hostNetwork, spec.hostPID and spec.hostIPC, or set them to false.",
    fields=("spec.hostNetwork", "spec.hostPID", "spec.hostIPC"),
    fix=removal("remove the host namespaces", "the workload may need the node's network, processes or IPC"),
)
