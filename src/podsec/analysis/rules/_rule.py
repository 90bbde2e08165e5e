"""What a rule beyond the pod is: a `Rule` about other objects than pods, evaluated across the
objects of the input (by `podsec.beyond` in a scan, by `podsec rbac`) with the semantics of
`podsec.analysis`. It has no revisions on pods: it is not a `Check`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from podsec.checks import Rule


class Scope(StrEnum):
    """What a rule beyond the pod looks at."""

    OBJECT = "object"  # one non-pod object (a NetworkPolicy rule, a PodSecurityPolicy)
    NAMESPACE = "namespace"  # a namespace, across the objects of the input
    RBAC = "rbac"  # roles and bindings together (podsec rbac)


@dataclass(frozen=True, slots=True, kw_only=True)
class BeyondRule(Rule):
    """A rule beyond the pod: what it looks at, and the reason each of its findings starts with
    (``reason (detail)``, the detail made by the analysis)."""

    scope: Scope
    reason: str

    def __reduce__(self) -> tuple[Any, ...]:
        """Built-in rules travel between processes by id, as checks do."""
        from podsec.analysis import rules

        if rules.find(self.id) is self:
            return (rules.get, (self.id,))
        raise TypeError(f"rule {self.id!r} is not registered and cannot be pickled")
