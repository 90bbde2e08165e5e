"""What a check is, and the values check authors need (the facade for check modules)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from podsec.model.paths import Path
from podsec.model.pod import ContainerView, PodView
from podsec.model.standards import CheckLevel, Version

__all__ = [
    "Check",
    "CheckLevel",
    "ContainerView",
    "Example",
    "Platform",
    "PodView",
    "Revision",
    "Scope",
    "Severity",
    "Violation",
]


class Severity(StrEnum):
    ERROR = "error"  # the API server or the kubelet will reject the pod
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Scope(StrEnum):
    """What a check looks at. Only ``pod`` checks run on pods; the others are evaluated by
    `podsec.beyond` on the objects (or the namespaces) they are about."""

    POD = "pod"
    OBJECT = "object"  # one non-pod object (a NetworkPolicy rule, a PodSecurityPolicy)
    NAMESPACE = "namespace"  # a namespace, across the objects of the input
    RBAC = "rbac"  # roles and bindings together (podsec rbac)


class Platform(StrEnum):
    """Which pods a check applies to. PSS checks are ``ANY``: PSA decides for itself."""

    ANY = "any"
    LINUX = "linux"  # skipped for pods with spec.os.name: windows
    WINDOWS = "windows"  # skipped for pods with spec.os.name: linux


@dataclass(frozen=True, slots=True)
class Example:
    """A documented example: pod-spec YAML that fails the check, and its fixed version
    (``whole``: complete manifests, for checks that are not about pods)."""

    failing: str
    fixed: str
    whole: bool = False


class Violation(NamedTuple):
    """One offending field (a named tuple: checks make one per offending container, and a pod
    may have a hundred thousand).

    ``path`` is the field to change (or, when the fix is to add it, where it goes);
    ``owner`` is the path of what holds it (a container, a volume, an annotation, or
    ``()`` for the pod itself) and ``name`` that owner's display name. ``tag`` tells
    the check's `describe` what kind of violation this is; ``value`` is the offending
    value as shown in messages.
    """

    path: Path
    owner: Path
    name: str
    tag: str = ""
    value: str = ""

    @property
    def container(self) -> str | None:
        """The container's name, for violations owned by a container."""
        return self.name if self.tag.startswith("c:") else None


Revision = Callable[..., list[Violation]]
"""A check's behaviour: ``fn(pod)``, or ``fn(pod, **options)`` for a check with options."""
Describe = Callable[[Sequence[Violation]], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Check:
    """A check: identity, metadata, and its behaviour at each policy version.

    ``revisions`` are ``(first version, function)`` pairs in increasing order; at
    version V the function in force is the last whose first version <= V.
    ``describe`` turns any non-empty subset of one evaluation's violations into PSA's
    ``(reason, detail)`` pair.
    """

    id: str
    level: CheckLevel
    title: str
    severity: Severity
    revisions: tuple[tuple[Version, Revision], ...]
    describe: Describe
    rationale: str
    remediation: str
    overrides: tuple[str, ...] = ()
    fields: tuple[str, ...] = field(default=())
    platform: Platform = Platform.ANY
    default_on: bool = True
    options: Mapping[str, int | str] = field(default_factory=dict)  # name -> default
    example: Example | None = None
    references: tuple[str, ...] = ()
    scope: Scope = Scope.POD

    def revision_at(self, version: Version) -> Revision | None:
        found: Revision | None = None
        for since, fn in self.revisions:
            if since <= version:
                found = fn
        return found

    @property
    def since(self) -> Version:
        return self.revisions[0][0]
