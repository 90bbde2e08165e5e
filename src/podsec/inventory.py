"""Read the objects `podsec rbac` and `podsec psp` analyse: roles, bindings, namespaces, PSPs (I/O edge).

Every object of every file is read (these commands are not on a hot path); what the API server
would refuse is an input error with its file and line, and is left out of the analysis, as the
API server would leave it out of the cluster. The cluster audit builds the same `Inventory`
from the objects it lists (with no files: ``Placed.file`` None).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from podsec.admission.labels import PSA, policy_for
from podsec.analysis import psp, rbac
from podsec.beyond import problem_errors
from podsec.findings import InputError
from podsec.model.objects import ObjectRef
from podsec.model.standards import Level
from podsec.model.workloads import KindTable
from podsec.sources.files import Exclude, Located, Member, Walk, missing, read_objects, read_target

DEFAULT_ROLES = "bootstrap-clusterroles.json"


@dataclass(frozen=True, slots=True)
class Placed:
    """An object and where it was read (``file`` None: from a cluster, or podsec's defaults)."""

    obj: Mapping[str, Any]
    file: str | None
    line: int | None = None
    line_offset: int = 0
    template: str | None = None

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef.of(self.obj)


@dataclass(slots=True)
class Inventory:
    roles: list[tuple[rbac.Role, Placed]] = field(default_factory=list)
    bindings: list[tuple[rbac.Binding, Placed]] = field(default_factory=list)
    namespaces: dict[str | None, dict[str, str] | None] = field(default_factory=dict)  # labels; None: no object
    policies: list[Placed] = field(default_factory=list)  # PodSecurityPolicies
    crds: list[Mapping[str, Any]] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    defaults: int = 0  # default ClusterRoles added (those the input does not define)

    def add(self, placed: Placed) -> None:
        """One object, from a file or a cluster."""
        obj = placed.obj
        kind = obj.get("kind")
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        assert isinstance(meta, dict)
        if kind == "Namespace" and obj.get("apiVersion") == "v1" and isinstance(meta.get("name"), str):
            labels = meta.get("labels")
            self.namespaces[meta["name"]] = (
                {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
            )
            return
        if rbac.is_rbac(obj):
            self._add_rbac(placed)
        elif psp.is_psp(obj):
            self.policies.append(placed)
        elif kind == "CustomResourceDefinition":
            self.crds.append(obj)
        ns = meta.get("namespace")
        if isinstance(ns, str) and ns and kind not in ("ClusterRole", "ClusterRoleBinding", "PodSecurityPolicy"):
            self.namespaces.setdefault(ns, None)

    def _add_rbac(self, placed: Placed) -> None:
        """A role or binding, unless the API server would refuse it (an input error then)."""
        if placed.obj.get("kind") in rbac.ROLE_KINDS:
            role, problems = rbac.read_role(placed.obj)
            if role is not None:
                self.roles.append((role, placed))
        else:
            binding, problems = rbac.read_binding(placed.obj)
            if binding is not None:
                self.bindings.append((binding, placed))
        self.errors += problem_errors(placed.obj, problems, placed.file, placed.line, placed.line_offset)

    def add_defaults(self) -> None:
        """Kubernetes' default ClusterRoles (cluster-admin, admin, edit, view, system:…) that the input
        does not define: every cluster has them, and bindings refer to them."""
        data = json.loads(resources.files("podsec").joinpath("data", DEFAULT_ROLES).read_text(encoding="utf-8"))
        known = {r.name for r, _ in self.roles if r.kind == "ClusterRole"}
        for item in data["clusterRoles"]:
            if item["name"] in known:
                continue
            obj = {
                "apiVersion": f"{rbac.GROUP}/v1",
                "kind": "ClusterRole",
                "metadata": {"name": item["name"], "labels": item.get("labels", {})},
                "rules": item["rules"],
                **({"aggregationRule": item["aggregationRule"]} if "aggregationRule" in item else {}),
            }
            role, _ = rbac.read_role(obj)
            assert role is not None, item["name"]
            self.roles.append((role, Placed(obj, None)))
            self.defaults += 1

    def authorizer(self) -> rbac.Authorizer:
        return rbac.Authorizer((r for r, _ in self.roles), (b for b, _ in self.bindings))

    def placed(self, binding: rbac.Binding) -> Placed:
        return next(p for b, p in self.bindings if b is binding)

    def enforce_levels(self) -> dict[str | None, Level]:
        """Each namespace's Pod Security Admission enforce level (privileged without the label, or
        without a Namespace object; an invalid value means restricted, as in PSA)."""
        out: dict[str | None, Level] = {}
        for name, labels in self.namespaces.items():
            psa_labels = {k: v for k, v in (labels or {}).items() if k.startswith(PSA)}
            out[name] = Level(policy_for(psa_labels).enforce.profile)
        return out

    def controllers(self, kinds: KindTable) -> list[rbac.Resource]:
        """Resources whose create/update/patch runs pods: the built-in controllers and every kind of
        podsec's kinds table (and the configuration's), named by the input's CRDs where it has them."""
        crd_names = dict(named for crd in self.crds if (named := _crd_resource(crd)) is not None)
        out = list(rbac.BUILTIN_CONTROLLERS)
        known = {(c.group, c.resource) for c in out}
        for rule in kinds.rules:
            for group in sorted(rule.groups):
                if group == "extensions" or (group == "" and rule.kind in ("Pod", "PodTemplate")):
                    continue
                plural, namespaced = crd_names.get((group, rule.kind), (_plural(rule.kind), rule.kind not in _CLUSTER))
                if (group, plural) not in known:
                    known.add((group, plural))
                    out.append(rbac.Resource(group, plural, namespaced))
        return out


def _crd_resource(crd: Mapping[str, Any]) -> tuple[tuple[str, str], tuple[str, bool]] | None:
    """``((group, kind), (plural, namespaced))`` of a CustomResourceDefinition; None when it names no
    group or kind (the plural defaults to the kind in lower case)."""
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    assert isinstance(names, dict)
    group, kind = spec.get("group"), names.get("kind")
    if not isinstance(group, str) or not isinstance(kind, str):
        return None
    plural = names.get("plural")
    plural = plural if isinstance(plural, str) and plural else kind.lower()
    return (group, kind), (plural, spec.get("scope") != "Cluster")


_CLUSTER = frozenset({"ClusterWorkflowTemplate"})


def _plural(kind: str) -> str:
    """The resource name Kubernetes derives for a kind when nothing says otherwise."""
    low = kind.lower()
    if low.endswith(("s", "x", "z", "ch", "sh")):
        return low + "es"
    if low.endswith("y") and low[-2:-1] not in ("a", "e", "i", "o", "u"):
        return low[:-1] + "ies"
    return low + "s"


def read(
    paths: Sequence[str],
    excludes: Sequence[Exclude] = (),
    kinds: KindTable | None = None,
    skip: AbstractSet[str] = frozenset(),
) -> Inventory:
    """Every object under ``paths`` (files, directories, ``-``), but for the files in ``skip`` (absolute)."""
    inv = Inventory(errors=list(missing(paths)))
    for target in Walk(paths, excludes, skip):
        data = read_target(target)
        inv.files.append(target.name)
        if isinstance(data, InputError):
            inv.errors.append(data)
            continue
        _add_bytes(inv, data, target.name, kinds or KindTable())
    return inv


def from_bytes(data: bytes, name: str, kinds: KindTable | None = None) -> Inventory:
    """Every object of one file's bytes."""
    inv = Inventory(files=[name])
    _add_bytes(inv, data, name, kinds or KindTable())
    return inv


def _add_bytes(inv: Inventory, data: bytes, name: str, kinds: KindTable) -> None:
    for item in read_objects(data, name, kinds, every=True):
        if isinstance(item, InputError):
            inv.errors.append(item)
        elif isinstance(item, Located):
            if "$patch" in item.obj:  # a strategic-merge patch ($patch: delete), which kustomize applies: no object
                continue
            inv.add(Placed(item.obj, name, item.line, item.line_offset, item.template))
        else:
            assert not isinstance(item, Member)


__all__ = ["Inventory", "Placed", "read"]
