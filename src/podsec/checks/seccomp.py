"""Seccomp: the baseline ban on Unconfined and the restricted requirement of a profile."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from podsec.checks._base import Check, CheckLevel, Owner, PodView, Severity, Violation
from podsec.checks._fix import Fix, FixOptions, Safety, SetDefault, by_owner, manual
from podsec.checks._helpers import (
    containers_phrase,
    go_quote,
    of_kind,
    on_annotation,
    on_container,
    on_pod,
    owners,
    plural,
    qlist,
    sorted_unique,
    who,
)

POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
_ALLOWED_TYPES = ("RuntimeDefault", "Localhost")


class _Kind(Enum):
    EXPLICIT = "a forbidden profile"
    IMPLICIT = "no profile"


def _annotation_allowed(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def _baseline_v1_0(pod: PodView) -> list[Violation]:
    """Before v1.19 only the annotations count (and the fields are ignored)."""
    keys = [POD_ANNOTATION] + [CONTAINER_ANNOTATION_PREFIX + c.name for c in pod.containers]
    found = []
    for key in dict.fromkeys(keys):
        if key in pod.annotations and not _annotation_allowed(pod.annotations[key] or ""):
            path = (*pod.annotations_path, key)
            text = f"{key}={go_quote(pod.annotations[key] or '')}"
            found.append(on_annotation(path, key, text))
    return found


def _explicit(pod: PodView) -> list[Violation]:
    found = []
    profile = pod.security_context.seccomp_profile
    if profile.value is not None and profile.value.type not in _ALLOWED_TYPES:
        found.append(on_pod((*profile.path, "type"), _Kind.EXPLICIT, profile.value.type))
    for c in pod.containers:
        own = c.effective.own("seccomp_profile")
        if own.value is not None and own.value.type not in _ALLOWED_TYPES:
            found.append(on_container(c, (*own.path, "type"), _Kind.EXPLICIT, own.value.type))
    return found


def _baseline_v1_19(pod: PodView) -> list[Violation]:
    return _explicit(pod)


def _describe_fields(vs: Sequence[Violation]) -> str:
    types = qlist(sorted_unique(v.value for v in vs))
    return f"{who(vs)} must not set securityContext.seccompProfile.type to {types}"


def _describe_baseline(vs: Sequence[Violation]) -> tuple[str, str]:
    annotations = sorted_unique(v.value for v in vs if v.on is Owner.ANNOTATION)
    if annotations:
        return "seccompProfile", (
            f"forbidden {plural(len(annotations), 'annotation', 'annotations')} {', '.join(annotations)}"
        )
    return "seccompProfile", _describe_fields(vs)


BASELINE: Check = Check(
    id="seccompProfile_baseline",
    level=CheckLevel.BASELINE,
    title="Seccomp explicitly disabled",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _baseline_v1_0), ((1, 19), _baseline_v1_19)),
    describe=_describe_baseline,
    rationale="Seccomp filters the system calls a container may make; Unconfined removes the "
    "filter and exposes the whole kernel interface.",
    remediation="Set seccompProfile.type to RuntimeDefault or Localhost, or leave it unset.",
    fields=(
        "spec.securityContext.seccompProfile.type",
        "spec.containers[*].securityContext.seccompProfile.type",
        "metadata.annotations['seccomp.security.alpha.kubernetes.io/pod']",
    ),
)


def _restricted_v1_19(pod: PodView) -> list[Violation]:
    found = _explicit(pod)
    profile = pod.security_context.seccomp_profile
    pod_valid = profile.value is not None and profile.value.type in _ALLOWED_TYPES
    if not pod_valid:
        for c in pod.containers:
            own = c.effective.own("seccomp_profile")
            if own.value is None:
                found.append(on_container(c, (*own.path, "type"), _Kind.IMPLICIT))
    return found


def _restricted_v1_25(pod: PodView) -> list[Violation]:
    return [] if pod.is_windows else _restricted_v1_19(pod)


def _describe_restricted(vs: Sequence[Violation]) -> tuple[str, str]:
    explicit = of_kind(vs, _Kind.EXPLICIT)
    if explicit:
        return "seccompProfile", _describe_fields(explicit)
    names = owners(vs)
    return "seccompProfile", (
        f"pod or {containers_phrase(names)} must set securityContext.seccompProfile.type "
        'to "RuntimeDefault" or "Localhost"'
    )


_TITLE = "set seccompProfile: {type: RuntimeDefault} on the pod"


def _fix_restricted(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
    """RuntimeDefault at pod level, for the containers that set no profile of their own; a profile
    someone wrote (Unconfined), or a legacy pod annotation (which the field must agree with), is
    theirs to change."""
    profile = pod.security_context.seccomp_profile
    pod_level = SetDefault(profile.path, {"type": "RuntimeDefault"})
    fixes = []
    for owner, vs in by_owner(violations).items():
        if pod.is_windows:
            fixes.append(manual(owner, _TITLE, "a Linux-only field, and the pod runs on Windows"))
        elif any(v.kind is _Kind.EXPLICIT for v in vs):
            fixes.append(manual(owner, _TITLE, f"seccompProfile.type {vs[0].value} is set on purpose"))
        elif profile.value is not None:
            fixes.append(manual(owner, _TITLE, f"the pod sets seccompProfile.type {profile.value.type}"))
        elif POD_ANNOTATION in pod.annotations:
            fixes.append(manual(owner, _TITLE, f"the pod's {POD_ANNOTATION} annotation decides"))
        else:
            fixes.append(Fix(owner, _TITLE, Safety.SAFE, (pod_level,), admission=True))
    return fixes


RESTRICTED: Check = Check(
    id="seccompProfile_restricted",
    level=CheckLevel.RESTRICTED,
    title="No seccomp profile (RuntimeDefault or Localhost) set",
    severity=Severity.MEDIUM,
    revisions=(((1, 19), _restricted_v1_19), ((1, 25), _restricted_v1_25)),
    describe=_describe_restricted,
    rationale="Without a seccomp profile most runtimes run containers Unconfined, leaving the "
    "full system-call surface of the kernel open to a compromised process.",
    remediation="Set spec.securityContext.seccompProfile.type: RuntimeDefault on the pod "
    "(or Localhost with a profile), and do not override it with Unconfined in containers.",
    overrides=("seccompProfile_baseline",),
    fix=_fix_restricted,
    fields=(
        "spec.securityContext.seccompProfile.type",
        "spec.containers[*].securityContext.seccompProfile.type",
    ),
)
