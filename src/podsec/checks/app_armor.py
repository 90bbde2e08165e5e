"""AppArmor profiles, from fields and from the legacy annotations (PSS baseline)."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, Owner, PodView, Severity, Violation
from podsec.checks._helpers import go_quote, on_annotation, on_container, on_pod, plural, qlist, sorted_unique, who

ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_ALLOWED_TYPES = ("RuntimeDefault", "Localhost")


def _annotation_allowed(value: str) -> bool:
    return value == "" or value == "runtime/default" or value.startswith("localhost/")


def _v1_0(pod: PodView) -> list[Violation]:
    found = []
    profile = pod.security_context.app_armor_profile
    if profile.value is not None and profile.value.type not in _ALLOWED_TYPES:
        found.append(on_pod((*profile.path, "type"), value=profile.value.type))
    for c in pod.containers:
        own = c.effective.own("app_armor_profile")
        if own.value is not None and own.value.type not in _ALLOWED_TYPES:
            found.append(on_container(c, (*own.path, "type"), value=own.value.type))
    for key, value in pod.annotations.items():
        if key.startswith(ANNOTATION_PREFIX) and not _annotation_allowed(value or ""):
            found.append(on_annotation((*pod.annotations_path, key), key, f"{key}={go_quote(value or '')}"))
    return found


def _describe(vs: Sequence[Violation]) -> tuple[str, str]:
    fields = [v for v in vs if v.on is not Owner.ANNOTATION]
    annotations = sorted(v.value for v in vs if v.on is Owner.ANNOTATION)
    setters = [who(fields)] if fields else []
    if annotations:
        setters.append(plural(len(annotations), "annotation", "annotations"))
    values = sorted_unique(v.value for v in fields) + annotations
    reason = plural(len(values), "forbidden AppArmor profile", "forbidden AppArmor profiles")
    return reason, f"{' and '.join(setters)} must not set AppArmor profile type to {qlist(values)}"


CHECK: Check = Check(
    id="appArmorProfile",
    level=CheckLevel.BASELINE,
    title="AppArmor profile disabled or overridden",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _v1_0),),
    describe=_describe,
    rationale="On hosts with AppArmor the runtime's default profile confines every container; "
    "setting it to Unconfined (or another profile) removes that confinement.",
    remediation="Leave appArmorProfile unset or set its type to RuntimeDefault or Localhost; "
    "remove container.apparmor.security.beta.kubernetes.io annotations other than "
    "runtime/default and localhost/*.",
    fields=(
        "spec.securityContext.appArmorProfile.type",
        "spec.containers[*].securityContext.appArmorProfile.type",
        "metadata.annotations['container.apparmor.security.beta.kubernetes.io/*']",
    ),
)
