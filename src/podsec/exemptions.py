"""Governed exemptions: from annotations on the object or pod template, and from the config file.

An exemption names checks (``*`` for all), optionally containers, and always a reason;
it may expire. An expired exemption exempts nothing and is itself reported; an invalid
one (no reason, a bad date) is reported and ignored. Pure: "today" is passed in.

Annotations (on ``metadata`` of the object, or of its pod template)::

    podsec.io/exempt: "readOnlyRootFilesystem, runAsNonRoot"   # check ids, or "*"
    podsec.io/exempt-containers: "nginx"                       # optional: only these containers
    podsec.io/exempt-reason: "nginx writes its cache; OPS-123" # required
    podsec.io/exempt-until: "2027-03-31"                       # optional, last day it applies
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from podsec.checks import Rule, Severity
from podsec.model.objects import ObjectRef
from podsec.model.paths import Path
from podsec.model.standards import CheckLevel
from podsec.model.values import Frozen

PREFIX = "podsec.io/"
EXEMPT, CONTAINERS, REASON, UNTIL = (
    PREFIX + k for k in ("exempt", "exempt-containers", "exempt-reason", "exempt-until")
)
ANNOTATION_KEYS = (EXEMPT, CONTAINERS, REASON, UNTIL)

Source = Literal["annotation", "config"]

_EXAMPLE = (
    "metadata:\n  annotations:\n    podsec.io/exempt: readOnlyRootFilesystem\n"
    "    podsec.io/exempt-reason: nginx writes its cache to /var/cache/nginx (OPS-123)\n"
)

# Governance: findings about exemptions themselves (reported under every profile). They are
# rules, not checks: nothing evaluates them on pods; applying exemptions raises them.
EXPIRED = Rule(
    id="exemptionExpired",
    level=CheckLevel.GOVERNANCE,
    title="An exemption has expired",
    severity=Severity.MEDIUM,
    rationale="Exemptions are meant to be temporary. Once the date in podsec.io/exempt-until (or "
    "`until:` in the config) has passed, the exemption stops applying, the findings it hid are "
    "reported again, and this finding says why they came back.",
    remediation="Fix the findings, or renew the exemption with a new date and an up-to-date reason.",
    fields=("metadata.annotations",),
)
INVALID = Rule(
    id="exemptionInvalid",
    level=CheckLevel.GOVERNANCE,
    title="An exemption annotation cannot be used",
    severity=Severity.MEDIUM,
    rationale="An exemption without a reason, with an unreadable date, or naming no check would "
    "hide findings without accountability, so podsec ignores it and says so.",
    remediation="Give podsec.io/exempt the check ids, podsec.io/exempt-reason a reason, and "
    "podsec.io/exempt-until a date such as 2027-03-31.\n\nExample:\n\n" + _EXAMPLE,
    fields=("metadata.annotations",),
)
GOVERNANCE: tuple[Rule, ...] = (EXPIRED, INVALID)


@dataclass(frozen=True, slots=True)
class Exemption(Frozen):
    checks: frozenset[str]  # "*" means every check
    reason: str
    until: date | None
    source: Source
    where: str  # "config .podsec.yaml exemptions[0]" or the annotation's field path
    path: Path = ()  # for annotations: where to point a finding about the exemption
    containers: tuple[str, ...] | None = None  # globs; None: the whole object
    namespace: str | None = None  # globs (config only); None: any
    kind: str | None = None
    name: str | None = None
    image: str | None = None

    def expired(self, today: date) -> bool:
        return self.until is not None and today > self.until

    def covers_object(self, ref: ObjectRef) -> bool:
        return all(
            pattern is None or fnmatch.fnmatchcase(value or "", pattern)
            for pattern, value in ((self.namespace, ref.namespace), (self.kind, ref.kind), (self.name, ref.name))
        )

    def covers(self, check: str, container: str | None, image: str | None) -> bool:
        if "*" not in self.checks and check not in self.checks:
            return False
        if self.containers is not None and (
            container is None or not any(fnmatch.fnmatchcase(container, g) for g in self.containers)
        ):
            return False
        if self.image is not None:
            return image is not None and fnmatch.fnmatchcase(image, self.image)
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "checks": sorted(self.checks),
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
            "where": self.where,
        }


class ExemptionError(ValueError):
    """An exemption that cannot be used; the message says why."""


def parse_date(value: object, where: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ExemptionError(f'{where}: "{value}" is not a date such as 2027-03-31') from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.replace("\n", ",").split(",") if part.strip())


def from_annotations(annotations: Mapping[str, Any], path: Path) -> Exemption | None:
    """The exemption written in these annotations, or None; raises ExemptionError when it is unusable."""
    if EXEMPT not in annotations:
        for key in (CONTAINERS, REASON, UNTIL):
            if key in annotations:
                raise ExemptionError(f"{key} is set but {EXEMPT} (the checks to exempt) is not")
        return None
    checks = _names(str(annotations.get(EXEMPT) or ""))
    if not checks:
        raise ExemptionError(f"{EXEMPT} names no check")
    reason = str(annotations.get(REASON) or "").strip()
    if not reason:
        raise ExemptionError(f"{EXEMPT} needs a reason in {REASON}")
    containers = annotations.get(CONTAINERS)
    return Exemption(
        checks=frozenset(checks),
        reason=reason,
        until=parse_date(annotations.get(UNTIL), UNTIL),
        source="annotation",
        where=f"annotation {EXEMPT}",
        path=(*path, EXEMPT),
        containers=_names(str(containers)) if containers else None,
    )


_CONFIG_KEYS = {"checks", "reason", "until", "namespace", "kind", "name", "container", "image"}


def from_config(entries: object, origin: str) -> tuple[Exemption, ...]:
    """The ``exemptions:`` list of a config file; raises ExemptionError naming the bad key."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ExemptionError("exemptions: expected a list")
    return tuple(_config_entry(entry, f"exemptions[{i}]", origin) for i, entry in enumerate(entries))


def _config_entry(entry: object, where: str, origin: str) -> Exemption:
    """One entry of a config file's ``exemptions:`` list (at ``where``)."""
    if not isinstance(entry, dict):
        raise ExemptionError(f"{where}: expected a mapping with checks and reason")
    unknown = set(entry) - _CONFIG_KEYS
    if unknown:
        raise ExemptionError(f'{where}: unknown key "{sorted(unknown)[0]}"')
    checks = entry.get("checks")
    if isinstance(checks, str):
        checks = [checks]
    if not isinstance(checks, list) or not checks or not all(isinstance(c, str) and c for c in checks):
        raise ExemptionError(f'{where}.checks: expected a list of check ids (or ["*"])')
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ExemptionError(f"{where}.reason: every exemption needs a reason")
    globs = {key: _glob(entry, key, where) for key in ("namespace", "kind", "name", "container", "image")}
    container = globs.pop("container")
    return Exemption(
        checks=frozenset(checks),
        reason=reason.strip(),
        until=parse_date(entry.get("until"), f"{where}.until"),
        source="config",
        where=f"config {origin} {where}",
        containers=(container,) if container else None,
        namespace=globs["namespace"],
        kind=globs["kind"],
        name=globs["name"],
        image=globs["image"],
    )


def _glob(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise ExemptionError(f"{where}.{key}: expected a glob pattern (a string)")
    return value


def applicable(exemptions: Sequence[Exemption], ref: ObjectRef) -> list[Exemption]:
    return [e for e in exemptions if e.covers_object(ref)]


class Exempter:
    """Matches violations and findings against the exemptions that apply to one object.

    An expired exemption matches nothing; one that would have matched something is reported
    (annotations only: an expired config entry is the admin's to clean up, not the object's).
    """

    __slots__ = ("active", "expired", "used_expired")

    def __init__(self, candidates: Sequence[Exemption], today: date | None) -> None:
        self.active = [e for e in candidates if today is None or not e.expired(today)]
        self.expired = [e for e in candidates if today is not None and e.expired(today)]
        self.used_expired: list[Exemption] = [e for e in self.expired if e.source == "annotation"]

    def __bool__(self) -> bool:
        return bool(self.active or self.expired)

    def match(self, check: str, container: str | None, image: str | None) -> Exemption | None:
        match = next((e for e in self.active if e.covers(check, container, image)), None)
        if match is None:
            for e in self.expired:
                if e not in self.used_expired and e.covers(check, container, image):
                    self.used_expired.append(e)
        return match


def expired_message(e: Exemption) -> str:
    assert e.until is not None
    names = ", ".join(sorted(e.checks))
    return (
        f"exemption ({e.where} for {names} expired on {e.until.isoformat()}; "
        f"its findings are reported again. Reason given: {e.reason})"
    )


@dataclass(frozen=True, slots=True)
class Unusable:
    """An exemption annotation that cannot be used: where, and why (a governance finding)."""

    path: Path  # the annotation to point at
    reason: str


@dataclass(frozen=True, slots=True)
class Annotations:
    """What the exemption annotations of one object say."""

    found: tuple[Exemption, ...] = ()
    unusable: tuple[Unusable, ...] = ()  # reported as exemptionInvalid
    unknown: tuple[tuple[Path, tuple[str, ...]], ...] = ()  # (annotation, check ids no check has): input errors


def read_annotations(places: Mapping[Path, Mapping[str, Any]], known: frozenset[str] | None) -> Annotations:
    """The exemptions written in the annotations at ``places`` (annotations path -> annotations).

    A check id ``known`` lacks (None: any id) makes the exemption unusable as an input error:
    a typo must not pass for an exemption (the config file refuses it too).
    """
    found: list[Exemption] = []
    unusable: list[Unusable] = []
    unknown: list[tuple[Path, tuple[str, ...]]] = []
    for path, notes in places.items():
        try:
            exemption = from_annotations(notes, path)
        except ExemptionError as exc:
            key = next((k for k in ANNOTATION_KEYS if k in notes), EXEMPT)
            unusable.append(Unusable((*path, key), f"exemption ({exc}; it is ignored)"))
            continue
        if exemption is None:
            continue
        names = tuple(sorted(c for c in exemption.checks if c != "*" and known is not None and c not in known))
        if names:
            unknown.append(((*path, EXEMPT), names))
        else:
            found.append(exemption)
    return Annotations(tuple(found), tuple(unusable), tuple(unknown))
