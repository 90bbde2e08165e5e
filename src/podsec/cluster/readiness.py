"""Namespace readiness: which Pod Security level a namespace could enforce today. Pure.

For each namespace: its PSA labels and the policy they give (with the defaults of PSA's
configuration), the highest level it could enforce at a pinned version without denying any
running pod or any template (a Deployment scaled to zero and a CronJob between runs count:
their next pods would be denied), what blocks the next level and why (PSA's own words), the
objects that already violate the enforced level (the namespace would break as they are
recreated), label drift (enforcing less than it could), and the ``kubectl label`` command and
YAML patch that move it up.

PSA's exemptions are honoured: an exempt namespace is not judged; pods of an exempt runtime
class never block; and when a controller's user is exempt (``system:serviceaccount:
kube-system:replicaset-controller``, or ``system:kube-controller-manager`` when controllers
share its credentials), what that controller creates never blocks — the caution in PSA's
documentation, made visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from podsec.admission.labels import MODES, PSA, ModePolicy, NamespacePolicy, policy_for
from podsec.cluster.psaconfig import PsaConfig
from podsec.model.objects import ObjectRef
from podsec.model.standards import Level, PolicyVersion

POD_MAKER = {
    "Deployment": "ReplicaSet",
    "ReplicaSet": "ReplicaSet",
    "CronJob": "Job",
    "Job": "Job",
    "StatefulSet": "StatefulSet",
    "DaemonSet": "DaemonSet",
    "ReplicationController": "ReplicationController",
}
"""The kind whose controller creates the pods of each built-in kind."""
CONTROLLER_ACCOUNTS = {
    "ReplicaSet": "replicaset-controller",
    "Job": "job-controller",
    "StatefulSet": "statefulset-controller",
    "DaemonSet": "daemon-set-controller",
    "ReplicationController": "replication-controller",
}
CONTROLLER_MANAGER = "system:kube-controller-manager"
LEVELS = (Level.BASELINE, Level.RESTRICTED)


def creator(kind: str, obj: Mapping[str, Any]) -> str | None:
    """The kind whose controller creates ``obj``'s pods (a pod's: its controller owner's kind)."""
    if kind != "Pod":
        return POD_MAKER.get(kind)
    meta = obj.get("metadata")
    refs = meta.get("ownerReferences") if isinstance(meta, dict) else None
    for ref in refs if isinstance(refs, list) else ():
        if isinstance(ref, dict) and ref.get("controller") is True:
            return str(ref.get("kind") or "") or None
    return None


@dataclass(slots=True)
class Subject:
    """An evaluated object of a namespace and the running pods its findings stand for."""

    ref: ObjectRef
    uid: str
    template: bool  # a workload's pod template (its next pods), not a pod
    verdicts: Mapping[str, str | None]  # level name ("restricted:v1.37") -> PSA's denial text
    runtime_classes: tuple[str | None, ...] = ()
    creator: str | None = None  # the kind whose controller creates the pods (None: a person or unknown)
    running: bool = True  # a pod that has not terminated (templates: always)
    pods: int = 0  # running pods made from it (a template) that match it

    def exempt(self, psa: PsaConfig) -> str | None:
        """Why PSA would never judge this object's pods, or None."""
        classes = self.runtime_classes
        if classes and all(rc is not None and rc in psa.runtime_classes for rc in classes):
            return f'runtime class "{classes[0]}" is exempt'
        account = CONTROLLER_ACCOUNTS.get(self.creator or "")
        if account and f"system:serviceaccount:kube-system:{account}" in psa.usernames:
            return f"its pods are created by system:serviceaccount:kube-system:{account}, an exempt user"
        if self.creator and CONTROLLER_MANAGER in psa.usernames:
            return f"its pods are created by {CONTROLLER_MANAGER}, an exempt user"
        return None


@dataclass(frozen=True, slots=True)
class Blocker:
    ref: ObjectRef
    uid: str
    pods: int  # running pods it stands for (itself, for a pod)
    template: bool
    reason: str  # PSA's text

    def as_dict(self) -> dict[str, Any]:
        o = self.ref
        return {
            "object": {"apiVersion": o.api_version, "kind": o.kind, "namespace": o.namespace, "name": o.name},
            "uid": self.uid,
            "runningPods": self.pods,
            "template": self.template,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Readiness:
    namespace: str
    labels: Mapping[str, str]  # the PSA labels as set
    policy: NamespacePolicy  # the policy they give, with PSA's defaults
    pinned: PolicyVersion
    exempt: bool = False
    enforceable: Level | None = None  # None when exempt
    blockers: Mapping[Level, tuple[Blocker, ...]] = field(default_factory=dict)  # at the pinned version
    breaking: tuple[Blocker, ...] = ()  # violating the enforced level now
    objects: int = 0
    pods: int = 0
    exempted: tuple[tuple[ObjectRef, str], ...] = ()  # objects PSA's exemptions take out, and why

    @property
    def enforce(self) -> ModePolicy:
        return self.policy.enforce

    @property
    def enforced_level(self) -> Level:
        return Level(self.enforce.profile)

    @property
    def drift(self) -> bool:
        """Enforcing less than it could."""
        return self.enforceable is not None and self.enforceable.strictness > self.enforced_level.strictness

    @property
    def next_level(self) -> Level | None:
        if self.enforceable is None or self.enforceable is Level.RESTRICTED:
            return None
        return Level.RESTRICTED if self.enforceable is Level.BASELINE else Level.BASELINE

    def target_labels(self) -> dict[str, str] | None:
        """The labels that move it up to what it could enforce, or None when there is nothing to do."""
        if not self.drift or self.enforceable is None:
            return None
        return {f"{PSA}enforce": str(self.enforceable), f"{PSA}enforce-version": str(self.pinned)}

    def command(self) -> str | None:
        labels = self.target_labels()
        if labels is None:
            return None
        pairs = " ".join(f"{k}={v}" for k, v in labels.items())
        return f"kubectl label --overwrite namespace {self.namespace} {pairs}"

    def patch(self) -> str | None:
        labels = self.target_labels()
        if labels is None:
            return None
        lines = "".join(f"    {k}: {v}\n" for k, v in labels.items())
        return f"metadata:\n  labels:\n{lines}"

    def as_dict(self) -> dict[str, Any]:
        p = self.policy
        return {
            "namespace": self.namespace,
            "labels": dict(self.labels),
            "policy": {m: {"level": p.mode(m).profile, "version": str(p.mode(m).version)} for m in MODES},
            "labelErrors": list(p.errors),
            "exempt": self.exempt,
            "pinnedVersion": str(self.pinned),
            "enforceable": str(self.enforceable) if self.enforceable else None,
            "drift": self.drift,
            "wouldBreak": [b.as_dict() for b in self.breaking],
            "blockers": {str(level): [b.as_dict() for b in found] for level, found in self.blockers.items()},
            "nextLevel": str(self.next_level) if self.next_level else None,
            "command": self.command(),
            "patch": self.patch(),
            "objects": self.objects,
            "runningPods": self.pods,
            "exempted": [{"object": str(ref), "why": why} for ref, why in self.exempted],
        }


def psa_labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (labels or {}).items() if k.startswith(PSA)}


def namespace_policy(labels: Mapping[str, str] | None, psa: PsaConfig) -> NamespacePolicy:
    """The policy PSA applies to a namespace with these labels (podsec's own labels play no part)."""
    return policy_for(psa_labels(labels), psa.defaults)


def level_name(level: Level | str, version: PolicyVersion) -> str:
    return f"{level}:{version}"


def enforce_name(policy: NamespacePolicy) -> str | None:
    """The verdict name of the enforced level, None when it is privileged (nothing is denied)."""
    enforce = policy.enforce
    return None if enforce.profile == "privileged" else level_name(enforce.profile, enforce.version)


def judge(
    namespace: str,
    labels: Mapping[str, str] | None,
    subjects: Iterable[Subject],
    psa: PsaConfig,
    pinned: PolicyVersion,
) -> Readiness:
    policy = namespace_policy(labels, psa)
    subjects = list(subjects)
    pods = sum(s.pods + (not s.template and s.running) for s in subjects)
    base = Readiness(namespace, psa_labels(labels), policy, pinned, objects=len(subjects), pods=pods)
    if namespace in psa.namespaces:
        return replace(base, exempt=True)
    judged: list[Subject] = []
    exempted: list[tuple[ObjectRef, str]] = []
    for s in subjects:
        if not s.template and not s.running:
            continue  # a terminated pod is never admitted again
        why = s.exempt(psa)
        if why:
            exempted.append((s.ref, why))
        else:
            judged.append(s)
    blockers = {level: _failing(judged, level_name(level, pinned)) for level in LEVELS}
    enforceable = (
        Level.RESTRICTED
        if not blockers[Level.RESTRICTED]
        else Level.BASELINE
        if not blockers[Level.BASELINE]
        else Level.PRIVILEGED
    )
    name = enforce_name(policy)
    breaking = _failing(judged, name) if name else ()
    return replace(base, enforceable=enforceable, blockers=blockers, breaking=breaking, exempted=tuple(exempted))


def _failing(subjects: Iterable[Subject], name: str) -> tuple[Blocker, ...]:
    found = []
    for s in subjects:
        reason = s.verdicts.get(name)
        if reason:
            found.append(Blocker(s.ref, s.uid, s.pods + (not s.template), s.template, reason))
    return tuple(sorted(found, key=lambda b: (b.ref.kind or "", b.ref.name or "")))
