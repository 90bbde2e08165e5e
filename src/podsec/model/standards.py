"""Pod Security Standards levels and policy versions (spec §1.1, §1.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class CheckLevel(StrEnum):
    """The level a check (or any other source of findings) belongs to."""

    BASELINE = "baseline"
    RESTRICTED = "restricted"
    HARDENED = "hardened"  # podsec's own checks, beyond the Pod Security Standards
    GOVERNANCE = "governance"  # about exemptions themselves; reported under every profile
    POLICY = "policy"  # a rule of a user's Rego policy (--policy)
    RBAC = "rbac"  # who may do what (podsec rbac)

    @property
    def is_pss(self) -> bool:
        """A Pod Security Standards level (what PSA itself evaluates)."""
        return self in (CheckLevel.BASELINE, CheckLevel.RESTRICTED)


class Level(StrEnum):
    """A Pod Security Standards level, as Pod Security Admission names it."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    @property
    def check_levels(self) -> frozenset[CheckLevel]:
        """The levels of the checks this level runs (restricted includes baseline)."""
        return _PSS_CHECK_LEVELS[self]

    @property
    def strictness(self) -> int:
        """0 for privileged, the least strict."""
        return _LEVEL_STRICTNESS[self]


_LEVEL_STRICTNESS = {level: i for i, level in enumerate(Level)}


_PSS_CHECK_LEVELS = {
    Level.PRIVILEGED: frozenset[CheckLevel](),
    Level.BASELINE: frozenset({CheckLevel.BASELINE}),
    Level.RESTRICTED: frozenset({CheckLevel.BASELINE, CheckLevel.RESTRICTED}),
}


class Profile(StrEnum):
    """What podsec evaluates: a Pod Security Standards level, or ``hardened`` (restricted and
    podsec's own checks). The one vocabulary of the scan (``--profile``), the configuration
    and the webhook's namespace labels (``podsec.io/enforce``), in order of strictness."""

    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"
    HARDENED = "hardened"

    @property
    def pss_level(self) -> Level:
        """The Pod Security Standards level inside the profile."""
        return Level.RESTRICTED if self is Profile.HARDENED else Level(self.value)

    @property
    def is_pss(self) -> bool:
        """Exactly a Pod Security Standards level (so PSA's own words apply)."""
        return self is not Profile.HARDENED

    @property
    def active(self) -> bool:
        """Whether it evaluates anything (``privileged`` allows everything)."""
        return self is not Profile.PRIVILEGED

    @property
    def strictness(self) -> int:
        return _STRICTNESS[self]

    @property
    def check_levels(self) -> frozenset[CheckLevel]:
        """The levels of the checks this profile runs (governance findings come with every profile)."""
        levels = self.pss_level.check_levels
        return levels | {CheckLevel.HARDENED} if self is Profile.HARDENED else levels


_STRICTNESS = {p: i for i, p in enumerate(Profile)}
SCAN_PROFILES = tuple(p for p in Profile if p.active)
"""The profiles a scan can use (``privileged`` would check nothing)."""


_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")

Version = tuple[int, int]
"""A (major, minor) pair; the only major is 1."""


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """A version as the user spelled it: ``latest`` or ``v1.N``.

    The spelling is kept for messages (``restricted:latest``); `clamp` turns it into the
    version actually evaluated.
    """

    minor: int | None  # None means "latest"

    @classmethod
    def parse(cls, text: str) -> PolicyVersion:
        """Parse ``latest`` or ``v1.N`` exactly as PSA does; raise ValueError otherwise."""
        if text == "latest":
            return cls(None)
        m = _VERSION.match(text)
        if m is None:
            raise ValueError(f'invalid policy version "{text}": expected "latest" or "v1.<minor>"')
        return cls(int(m.group(1)))

    @property
    def is_latest(self) -> bool:
        return self.minor is None

    def clamp(self, newest: Version) -> Version:
        """The version evaluated: ``latest`` and anything above ``newest`` become ``newest``."""
        if self.minor is None or (1, self.minor) > newest:
            return newest
        return (1, self.minor)

    def __str__(self) -> str:
        return "latest" if self.minor is None else f"v1.{self.minor}"


def format_version(version: Version) -> str:
    return f"v{version[0]}.{version[1]}"
