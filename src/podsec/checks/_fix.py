"""The remediation a check offers, as typed edits of the object (declared beside the check).

A check's `Remedy` looks at a pod view and the violations of the check that are to be fixed
(those no exemption covers) and offers one `Fix` per owner it can remediate (the pod itself,
``owner == ()``, or a container, ``owner`` its path: the owner of the violations it fixes).
A fix is a few `Edit`s on the object's own paths and a `Safety`:

* ``SAFE``: changes nothing a workload relies on in practice; a fixer applies it unasked.
  Those that are also ``admission`` are applied by the mutating webhook to every pod it is
  asked to mutate (nobody reviews those: the webhook is more careful, e.g. it drops no
  capability of a container that adds one);
* ``UNSAFE``: remediates, but may stop a workload from working (an image that needs root, a
  capability it uses); a fixer applies it only when asked (``--unsafe``);
* ``MANUAL``: no edit can be offered (``reason`` says why): a value someone wrote on purpose,
  or an edit Kubernetes' validation would refuse (``allowPrivilegeEscalation: false`` on a
  privileged container, a field that contradicts a legacy annotation, a Linux-only field on a
  Windows pod).

Edits never overwrite a value unseen: `SetDefault` sets a field only where it is absent (or
null: a null mapping is replaced whole, since nothing can be added under it), `AddToList`
adds items to a list that may not exist yet, `Replace` changes one value only where it is
still the value the check saw, `Remove` deletes a field or list item. `podsec.remedies` turns
edits into an RFC 6902 JSON Patch, which the webhook returns and the fixer writes into files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from podsec.model.paths import Path

if TYPE_CHECKING:
    from podsec.checks._base import Violation
    from podsec.model.pod import PodView


class Safety(StrEnum):
    SAFE = "safe"
    UNSAFE = "unsafe"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class SetDefault:
    """Set ``path`` to ``value`` where it is absent or null; never over a value."""

    path: Path
    value: Any


@dataclass(frozen=True, slots=True)
class AddToList:
    """Add ``items`` to the list at ``path`` (made when absent), keeping what is there."""

    path: Path
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Replace:
    """Set ``path`` to ``value`` where it holds ``old`` (and nowhere else)."""

    path: Path
    old: Any
    value: Any


@dataclass(frozen=True, slots=True)
class Remove:
    """Remove the field (or list item) at ``path``."""

    path: Path


Edit = SetDefault | AddToList | Replace | Remove


@dataclass(frozen=True, slots=True)
class Fix:
    """What remediates one owner's violations of one check."""

    owner: Path  # () for the pod itself, else the container's (or volume's) path
    title: str  # what the fix does, in a few words ("set allowPrivilegeEscalation: false")
    safety: Safety
    edits: tuple[Edit, ...] = ()
    reason: str = ""  # why it is MANUAL or UNSAFE: what a human has to decide or verify
    admission: bool = False  # SAFE enough for the mutating webhook to apply unreviewed


@dataclass(frozen=True, slots=True)
class FixOptions:
    """What the user decided for fixes no check may guess (``--run-as-user``)."""

    run_as_user: int | None = None


Remedy = Callable[["PodView", Sequence["Violation"], FixOptions], Sequence[Fix]]
"""The fixes a check offers for a pod, given the violations to fix (one per owner, or none)."""


def manual(owner: Path, title: str, reason: str) -> Fix:
    return Fix(owner, title, Safety.MANUAL, (), reason)


def by_owner(violations: Iterable[Violation]) -> dict[Path, list[Violation]]:
    """The violations grouped by owner, in visiting order."""
    groups: dict[Path, list[Violation]] = {}
    for v in violations:
        groups.setdefault(v.owner, []).append(v)
    return groups


def removal(title: str, reason: str) -> Remedy:
    """A remedy that removes every offending field (UNSAFE: the workload may rely on it).

    Items of one list are removed last first, so that each index still names its item.
    """

    def remedy(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
        fixes = []
        for owner, vs in by_owner(violations).items():
            paths = sorted({v.path for v in vs}, key=_removal_order, reverse=True)
            fixes.append(Fix(owner, title, Safety.UNSAFE, tuple(Remove(p) for p in paths), reason))
        return fixes

    return remedy


def _removal_order(path: Path) -> tuple[tuple[int, str], ...]:
    return tuple((p, "") if isinstance(p, int) else (-1, p) for p in path)
