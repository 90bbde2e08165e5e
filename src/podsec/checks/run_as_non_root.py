"""Containers must run as non-root: runAsNonRoot must be true (PSS restricted)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from podsec.checks._base import Check, CheckLevel, PodView, Severity, Violation
from podsec.checks._fix import Fix, FixOptions, Safety, SetDefault, by_owner, manual
from podsec.checks._helpers import containers_phrase, of_kind, on_container, on_pod, owners, who
from podsec.model.pod import display_name


class _Kind(Enum):
    EXPLICIT = "set to false"
    IMPLICIT = "not set to true"


def _v1_0(pod: PodView) -> list[Violation]:
    found = []
    pod_value = pod.security_context.run_as_non_root
    if pod_value.value is False:
        found.append(on_pod(pod_value.path, _Kind.EXPLICIT))
    for c in pod.containers:
        own = c.effective.own("run_as_non_root")
        if own.value is False:
            found.append(on_container(c, own.path, _Kind.EXPLICIT))
        elif own.value is None and pod_value.value is not True:
            found.append(on_container(c, own.path, _Kind.IMPLICIT))
    return found


def _v1_35(pod: PodView) -> list[Violation]:
    return [] if pod.is_user_namespaced else _v1_0(pod)


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    explicit = of_kind(vs, _Kind.EXPLICIT)
    if explicit:
        return "runAsNonRoot != true", f"{who(explicit)} must not set securityContext.runAsNonRoot=false"
    return "runAsNonRoot != true", (
        f"pod or {containers_phrase(owners(vs))} must set securityContext.runAsNonRoot=true"
    )


_TITLE = "set runAsNonRoot: true on the pod"
_VERIFY = "verify the image's user: an image whose USER is root (or unset) will not start"


def _fix(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
    """runAsNonRoot: true at pod level (--unsafe); with --run-as-user, also that runAsUser where the
    pod sets none. Not over an explicit false, nor where UID 0 is set (the kubelet would refuse)."""
    psc = pod.security_context
    edits: list[SetDefault] = [SetDefault(psc.run_as_non_root.path, True)]
    if options.run_as_user is not None and psc.run_as_user.value is None:
        edits.append(SetDefault(psc.run_as_user.path, options.run_as_user))
    root = [c.label for c in pod.containers if c.effective.run_as_user.value == 0]
    fixes = []
    for owner, vs in by_owner(violations).items():
        if any(v.kind is _Kind.EXPLICIT for v in vs) or psc.run_as_non_root.value is False:
            fixes.append(manual(owner, _TITLE, "runAsNonRoot: false is set on purpose"))
        elif root and options.run_as_user is None:  # the kubelet would refuse to start that container
            why = f"container {display_name(root[0])} sets runAsUser: 0 (give a UID with --run-as-user)"
            fixes.append(manual(owner, _TITLE, why))
        else:
            fixes.append(Fix(owner, _TITLE, Safety.UNSAFE, tuple(edits), _VERIFY))
    return fixes


CHECK: Check = Check(
    id="runAsNonRoot",
    level=CheckLevel.RESTRICTED,
    title="Container may run as root",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _v1_0), ((1, 35), _v1_35)),
    describe=_describe,
    rationale="A process running as root in a container is root on the node if it escapes; "
    "runAsNonRoot makes the kubelet refuse to start a container whose user is 0.",
    remediation="Set spec.securityContext.runAsNonRoot: true on the pod (and do not set it to "
    "false in any container); make sure the image runs as a non-zero UID.",
    fields=("spec.securityContext.runAsNonRoot", "spec.containers[*].securityContext.runAsNonRoot"),
    fix=_fix,
)
