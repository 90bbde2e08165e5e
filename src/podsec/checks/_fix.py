"""The remediation a check offers, as typed edits of the object (declared beside the check).

A check's `Remedy` looks at a pod view and offers one `Fix` per owner it can remediate
(the pod itself, ``owner == ()``, or a container, ``owner`` its path; the owner of the
violations it fixes). A fix is a few `Edit`s on the object's own paths and a `Safety`:

* ``SAFE``: changes nothing a workload relies on in practice; the mutating webhook applies
  these to every pod it is asked to mutate, and a fixer applies them unasked;
* ``UNSAFE``: remediates, but may stop a workload from working (an image that needs root, a
  capability it uses); a fixer applies it only when asked (``--unsafe``);
* ``MANUAL``: no edit can be offered (``reason`` says why): a value someone wrote on purpose,
  or an edit Kubernetes' validation would refuse (``allowPrivilegeEscalation: false`` on a
  privileged container, a field that contradicts a legacy annotation, a Linux-only field on a
  Windows pod).

Edits never overwrite a value: `SetDefault` sets a field only where it is absent (or null:
a null mapping is replaced whole, since nothing can be added under it), `AddToList` adds
items to a list that may not exist yet, `Remove` deletes a field. Renderers turn edits into
a JSON Patch (`podsec.admission.mutate`) or into edited YAML text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from podsec.model.paths import Path

if TYPE_CHECKING:
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
class Remove:
    """Remove the field at ``path``."""

    path: Path


Edit = SetDefault | AddToList | Remove


@dataclass(frozen=True, slots=True)
class Fix:
    """What remediates one owner's violations of one check."""

    owner: Path  # () for the pod itself, else the container's path
    title: str  # what the fix does, in a few words ("set allowPrivilegeEscalation: false")
    safety: Safety
    edits: tuple[Edit, ...] = ()
    reason: str = ""  # why it is MANUAL (or UNSAFE): what a human has to decide


def manual(owner: Path, title: str, reason: str) -> Fix:
    return Fix(owner, title, Safety.MANUAL, (), reason)


Remedy = Callable[["PodView"], Sequence[Fix]]
"""The fixes a check offers for a pod (one per owner it can remediate, or none)."""
