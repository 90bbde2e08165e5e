"""Pod Security Standards levels and policy versions (spec §1.1, §1.2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    PRIVILEGED = "privileged"
    BASELINE = "baseline"
    RESTRICTED = "restricted"

    @property
    def strictness(self) -> int:
        return _STRICTNESS[self]


_STRICTNESS = {Level.PRIVILEGED: 0, Level.BASELINE: 1, Level.RESTRICTED: 2}

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
