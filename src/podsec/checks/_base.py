"""What a check is, and the values check authors need (the facade for check modules).

A `Rule` is anything that reports findings: an id, a level, a severity and its
documentation. A `Check` is a rule evaluated on pods: its behaviour at each policy
version, how its violations read, and the remediation it offers. Other kinds of rules
are not checks: the governance rules about exemptions (`podsec.exemptions`), the rules of
the analyses beyond the pod (`podsec.analysis.rules`) and the rules of a user's Rego policies
(`podsec.rego`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, NamedTuple

from podsec.checks._fix import Remedy
from podsec.model.paths import Path
from podsec.model.pod import ContainerView, PodView
from podsec.model.standards import CheckLevel, Version
from podsec.model.values import Frozen

__all__ = [
    "Check",
    "CheckLevel",
    "ContainerView",
    "Example",
    "Owner",
    "Platform",
    "PodView",
    "Remedy",
    "Revision",
    "Rule",
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
        """0 for the most severe."""
        return _RANKS[self]


_RANKS = {s: i for i, s in enumerate(Severity)}


class Platform(StrEnum):
    """Which pods a check applies to. PSS checks are ``ANY``: PSA decides for itself."""

    ANY = "any"
    LINUX = "linux"  # skipped for pods with spec.os.name: windows
    WINDOWS = "windows"  # skipped for pods with spec.os.name: linux


@dataclass(frozen=True, slots=True)
class Example:
    """A documented example: pod-spec YAML that fails the rule, and its fixed version
    (``whole``: complete manifests, for rules that are not about pods)."""

    failing: str
    fixed: str
    whole: bool = False


class Owner(StrEnum):
    """What a violation is about: the pod itself, one container, a volume or an annotation."""

    POD = "pod"
    CONTAINER = "container"
    VOLUME = "volume"
    ANNOTATION = "annotation"


class Violation(NamedTuple):
    """One offending field (a named tuple: checks make one per offending container, and a pod
    may have a hundred thousand).

    ``path`` is the field to change (or, when the fix is to add it, where it goes); ``on``
    says what kind of thing holds it, ``owner`` is its path (``()`` for the pod itself) and
    ``name`` its display name. ``kind`` is the check's own distinction between its
    violations (a member of an enum the check defines, read by its `Check.describe`);
    ``value`` is the offending value as shown in messages.
    """

    path: Path
    owner: Path
    name: str
    on: Owner
    kind: Enum | None = None
    value: str = ""

    @property
    def container(self) -> str | None:
        """The container's name, for violations owned by a container."""
        return self.name if self.on is Owner.CONTAINER else None


Revision = Callable[..., list[Violation]]
"""A check's behaviour: ``fn(pod)``, or ``fn(pod, **options)`` for a check with options."""
Describe = Callable[[Sequence[Violation]], tuple[str, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule(Frozen):
    """Something that reports findings: its identity, level, severity and documentation
    (``example``: one the documentation runs through podsec, when the rule has one)."""

    id: str
    level: CheckLevel
    title: str
    severity: Severity
    rationale: str
    remediation: str
    fields: tuple[str, ...] = ()
    platform: Platform = Platform.ANY
    default_on: bool = True
    references: tuple[str, ...] = ()
    example: Example | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Check(Rule):
    """A check of pods: its behaviour at each policy version, and how its violations read.

    ``revisions`` are ``(first version, function)`` pairs in increasing order; at
    version V the function in force is the last whose first version <= V.
    ``describe`` turns any non-empty subset of one evaluation's violations into PSA's
    ``(reason, detail)`` pair. ``fix`` is the remediation it offers as edits of the object
    (`podsec.checks._fix`), used by the mutating webhook and by fixers.
    """

    revisions: tuple[tuple[Version, Revision], ...]
    describe: Describe
    overrides: tuple[str, ...] = ()
    options: Mapping[str, int | str] = field(default_factory=dict)  # name -> default
    fix: Remedy | None = None

    def revision_at(self, version: Version) -> Revision | None:
        found: Revision | None = None
        for since, fn in self.revisions:
            if since <= version:
                found = fn
        return found

    @property
    def since(self) -> Version:
        return self.revisions[0][0]

    def __reduce__(self) -> tuple[Any, ...]:
        """Built-in checks travel between processes by id (their functions are not all picklable)."""
        from podsec import checks

        if checks.find(self.id) is self:
            return (checks.get, (self.id,))
        raise TypeError(f"check {self.id!r} is not registered and cannot be pickled")
