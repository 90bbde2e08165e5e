"""Sharing the host's network, PID or IPC namespace (PSS baseline)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks import windows_host_process
from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._fix import Fix, FixOptions, manual, removal
from podsec.checks._helpers import on_pod


def _v1_0(pod: PodView) -> list[Violation]:
    return [
        on_pod(field.path, value=name)
        for name, field in (("hostNetwork", pod.host_network), ("hostPID", pod.host_pid), ("hostIPC", pod.host_ipc))
        if field.value is True
    ]


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    return "host namespaces", ", ".join(f"{v.value}=true" for v in vs)


_TITLE = "remove the host namespaces"
_remove = removal(_TITLE, "the workload may need the node's network, processes or IPC")


def _fix(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> Sequence[Fix]:
    """Removal (UNSAFE), but never of hostNetwork under a Windows HostProcess container: the API
    server requires hostNetwork: true while a pod has one, so that edit would be refused."""
    if pod.host_network.value is True and windows_host_process.has_host_process(pod):
        why = "the API server requires hostNetwork: true while the pod has a HostProcess container"
        return [manual((), _TITLE, why)]
    return _remove(pod, violations, options)


CHECK: Check = Check(
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
    fix=_fix,
)
