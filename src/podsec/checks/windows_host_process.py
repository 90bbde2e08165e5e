"""Windows HostProcess containers (PSS baseline)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._helpers import on_container, on_pod, who


def _v1_0(pod: PodView) -> list[Violation]:
    found = []
    opts = pod.security_context.windows_options
    if opts.value is not None and opts.value.host_process is True:
        found.append(on_pod((*opts.path, "hostProcess")))
    for c in pod.containers:
        own = c.effective.own("windows_options")
        if own.value is not None and own.value.host_process is True:
            found.append(on_container(c, (*own.path, "hostProcess")))
    return found


def has_host_process(pod: PodView) -> bool:
    """Whether the pod or one of its containers is a Windows HostProcess container."""
    return bool(_v1_0(pod))


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    return "hostProcess", f"{who(vs)} must not set securityContext.windowsOptions.hostProcess=true"


CHECK: Check = Check(
    id="windowsHostProcess",
    level=CheckLevel.BASELINE,
    title="Windows HostProcess container",
    severity=Severity.CRITICAL,
    revisions=(((1, 0), _v1_0),),
    describe=_describe,
    rationale="A HostProcess container runs directly on the Windows node with host access, the "
    "Windows equivalent of a privileged container.",
    remediation="Remove securityContext.windowsOptions.hostProcess or set it to false.",
    fields=(
        "spec.securityContext.windowsOptions.hostProcess",
        "spec.containers[*].securityContext.windowsOptions.hostProcess",
    ),
)
