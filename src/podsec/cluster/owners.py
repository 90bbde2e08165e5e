"""Which objects of a cluster to evaluate and report: top-level owners, and what differs from
them. Pure.

Controllers copy a template into the objects they make (Deployment → ReplicaSet → Pod,
CronJob → Job → Pod, ...), so evaluating every object reports each problem once per copy —
the noise users of other tools complain about. Here:

* an object without a controller owner among the objects read (a Deployment, a bare Pod, a
  StatefulSet an operator of an unknown kind made) is **top-level**: evaluated and reported,
  scaled to zero or not (a CronJob between runs, a Deployment at 0 replicas);
* an owned object whose pod projects like its owner's (`projection.digest`) is the **same**:
  its owner's findings stand for it;
* an owned object that no longer runs anything — a ReplicaSet of an old revision at 0
  replicas, a finished Job, a terminated pod — is **inactive**: not reported;
* any other owned object (a pod with an ephemeral debug container, a pod an admission plugin
  mutated, a ReplicaSet of an old revision still running) is **checked**: evaluated, and
  reported when its findings differ from those of the object standing for its owner.

Owners must be recorded before what they own: `ORDER` lists the built-in kinds top-down, and
kinds of other API groups (operators' kinds, usually owners) come first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

ORDER = ("CronJob", "Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet", "ReplicationController",
         "PodTemplate", "Pod")  # fmt: skip
_RANK = {kind: i for i, kind in enumerate(ORDER)}


def rank(group: str, kind: str) -> tuple[int, int]:
    """Sort key of a kind: other groups' kinds first, then the built-ins top-down."""
    builtin = group in ("", "apps", "batch", "extensions")
    return (1, _RANK.get(kind, -1)) if builtin and kind in _RANK else (0, 0)


class Decision(Enum):
    TOP = "top-level"
    SAME = "same as its owner"
    INACTIVE = "inactive"
    CHECK = "differs from its owner"


@dataclass(slots=True)
class Record:
    """What is kept of an object that may own others (never the object itself)."""

    kind: str
    namespace: str | None
    name: str
    uid: str
    owner: str | None  # the controller owner's uid
    digests: tuple[bytes, ...]
    live: bool
    stands_for: str | None = None  # uid of the evaluated record whose findings stand for this one
    key: bytes | None = None  # its violations key, once evaluated
    decision: Decision = Decision.TOP


def controller_of(obj: Mapping[str, Any]) -> str | None:
    """The uid of the object's controller owner (``ownerReferences[].controller: true``)."""
    meta = obj.get("metadata")
    refs = meta.get("ownerReferences") if isinstance(meta, dict) else None
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, dict) and ref.get("controller") is True and isinstance(ref.get("uid"), str):
            return str(ref["uid"])
    return None


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def is_live(obj: Mapping[str, Any]) -> bool:
    """Whether the object runs (or is about to run) pods: a pod not terminated, a ReplicaSet with
    replicas, a Job not finished; other kinds always."""
    kind = obj.get("kind")
    spec = _mapping(obj.get("spec"))
    status = _mapping(obj.get("status"))
    if kind == "Pod":
        return status.get("phase") not in ("Succeeded", "Failed")
    if kind in ("ReplicaSet", "ReplicationController"):
        return _int(spec.get("replicas"), 1) > 0 or _int(status.get("replicas"), 0) > 0
    if kind == "Job":
        conditions = status.get("conditions")
        finished = any(
            isinstance(c, dict) and c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in (conditions if isinstance(conditions, list) else ())
        )
        return not finished or _int(status.get("active"), 0) > 0
    return True


class Lineage:
    """The records of possible owners, and the decision for each object as it arrives."""

    def __init__(self) -> None:
        self.records: dict[str, Record] = {}

    def decide(self, record: Record) -> Decision:
        owner = self.records.get(record.owner) if record.owner else None
        if owner is None:
            decision = Decision.TOP
        elif not record.live:
            decision = Decision.INACTIVE
        elif owner.stands_for is not None and _matches(record.digests, owner.digests):
            decision = Decision.SAME
            record.stands_for = owner.stands_for
        else:
            decision = Decision.CHECK
        record.decision = decision
        if decision is Decision.TOP:
            record.stands_for = record.uid
        return decision

    def standing(self, record: Record) -> Record | None:
        """The evaluated record that stands for ``record`` (itself once evaluated and reported)."""
        return self.records.get(record.stands_for) if record.stands_for else None

    def settle(self, record: Record, key: bytes) -> bool:
        """After evaluating a checked (or top-level) record: whether it is reported. A checked
        record whose findings equal those standing for its owner is not."""
        record.key = key
        if record.decision is Decision.CHECK:
            owner = self.records.get(record.owner or "")
            stand = self.records.get(owner.stands_for) if owner and owner.stands_for else None
            if stand is not None and stand.key == key:
                record.stands_for = stand.uid
                return False
            record.stands_for = record.uid
        return True

    def keep(self, record: Record) -> None:
        """Remember a record that may own others (pods never do)."""
        self.records[record.uid] = record


def _matches(digests: tuple[bytes, ...], owner: tuple[bytes, ...]) -> bool:
    if digests == owner:
        return True
    return len(digests) == 1 and digests[0] in owner  # a pod made from one template of several (Argo)
