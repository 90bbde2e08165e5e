"""`podsec psp`: each PodSecurityPolicy as Pod Security Standards, and the labels to use per namespace.

`podsec.analysis.psp` maps each policy; RBAC (`podsec.analysis.rbac`) says who may ``use`` it: the
PSP admission controller authorized ``use`` on ``podsecuritypolicies`` (group ``policy``, the
policy's name) in the pod's namespace, for the requesting user and for the pod's service
account. A namespace's pods could run under any policy its service accounts may use, so the
level to enforce there is the least strict of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from podsec.analysis import psp, rbac
from podsec.analysis.rbac import Grant, Request
from podsec.beyond import problem_errors
from podsec.inventory import Inventory, Placed
from podsec.model.standards import Level


@dataclass(frozen=True, slots=True)
class Policy:
    placed: Placed
    assessment: psp.Assessment
    users: tuple[Grant, ...]  # subjects that may use it, and where

    @property
    def name(self) -> str:
        return self.assessment.name or "(unnamed)"


@dataclass(frozen=True, slots=True)
class NamespaceAdvice:
    namespace: str | None  # None: the namespace of objects that name none
    policies: tuple[Policy, ...]  # those its service accounts may use
    level: Level | None  # the least strict of them; None when they may use none
    everywhere: bool = False  # the row for every namespace not in the input


def _use(name: str) -> rbac.Power:
    return rbac.Power(f"use:{name}", f"use PodSecurityPolicy {name}")


def assess(inv: Inventory) -> list[Policy]:
    authorizer = inv.authorizer()
    out = []
    for placed in inv.policies:
        a = psp.assess(placed.obj)
        inv.errors += problem_errors(placed.obj, a.problems, placed.file, placed.line, placed.line_offset)
        name = a.name or ""

        def requests(ns: str | None, everywhere: bool, name: str = name) -> Sequence[Request]:
            return tuple(
                Request("use", g, "podsecuritypolicies", name=name, namespace=ns) for g in ("policy", "extensions")
            )

        out.append(Policy(placed, a, tuple(rbac.grants_of(authorizer, _use(name), requests))))
    return out


def _covers_service_accounts(g: Grant, namespace: str | None) -> bool:
    """Whether the grant's subject is (some of) the namespace's service accounts."""
    s = g.subject
    if s.kind == "ServiceAccount":
        return s.namespace == namespace
    if s.kind == "Group":
        return s.name in ("system:serviceaccounts", "system:authenticated") or (
            namespace is not None and s.name == f"system:serviceaccounts:{namespace}"
        )
    return False


def _all_service_accounts(g: Grant) -> bool:
    return g.subject.kind == "Group" and g.subject.name in ("system:serviceaccounts", "system:authenticated")


def advice(inv: Inventory, policies: Sequence[Policy]) -> list[NamespaceAdvice]:
    """Per namespace of the input (and for every other one): the policies its service accounts may use."""
    names: dict[str | None, None] = dict.fromkeys(inv.namespaces)
    for p in policies:
        for g in p.users:
            if not g.everywhere:
                names.setdefault(g.namespace)
            if g.subject.kind == "ServiceAccount":
                names.setdefault(g.subject.namespace)
    out = []
    for name in sorted(names, key=lambda n: (n is None, n or "")):
        usable = tuple(
            p for p in policies if any(g.applies_in(name) and _covers_service_accounts(g, name) for g in p.users)
        )
        out.append(NamespaceAdvice(name, usable, _least(usable)))
    others = tuple(p for p in policies if any(g.everywhere and _all_service_accounts(g) for g in p.users))
    out.append(NamespaceAdvice(None, others, _least(others), everywhere=True))
    return out


def _least(policies: Sequence[Policy]) -> Level | None:
    if not policies:
        return None
    return min((p.assessment.level for p in policies), key=lambda lv: lv.strictness)


# --- output ---------------------------------------------------------------------------------------


def _subject(s: rbac.Subject) -> dict[str, Any]:
    return {"kind": s.kind, "name": s.name, **({"namespace": s.namespace} if s.kind == "ServiceAccount" else {})}


def as_json(policies: Sequence[Policy], rows: Sequence[NamespaceAdvice], inv: Inventory) -> dict[str, Any]:
    return {
        "policies": [
            {
                "name": p.assessment.name,
                "file": p.placed.file,
                "line": p.placed.line,
                "level": p.assessment.level.value,
                "blocking": {
                    lv.value: [
                        {"field": b.field, "value": b.value, "needs": b.needs} for b in p.assessment.blocking(lv)
                    ]
                    for lv in (Level.BASELINE, Level.RESTRICTED)
                },
                "mutates": p.assessment.mutates,
                "mutations": [{"field": m.field, "effect": m.effect} for m in p.assessment.mutations],
                "labels": p.assessment.labels,
                "usedBy": [
                    {
                        "subject": _subject(g.subject),
                        "binding": {"kind": g.binding.kind, "namespace": g.binding.namespace, "name": g.binding.name},
                        "namespace": g.namespace,
                        "everywhere": g.everywhere,
                    }
                    for g in p.users
                ],
            }
            for p in policies
        ],
        "namespaces": [
            {
                "namespace": r.namespace,
                "otherNamespaces": r.everywhere,
                "policies": [p.name for p in r.policies],
                "level": r.level.value if r.level else None,
                "labels": {psp.ENFORCE_LABEL: r.level.value} if r.level else {},
            }
            for r in rows
        ],
        "errors": [e.as_dict() for e in inv.errors],
        "schemaVersion": 1,
    }


def write_text(out: TextIO, policies: Sequence[Policy], rows: Sequence[NamespaceAdvice], inv: Inventory) -> None:
    for e in inv.errors:
        out.write(f"error {e}\n")
    if inv.errors:
        out.write("\n")
    if not policies:
        out.write("no PodSecurityPolicy in the input\n")
        return
    for p in policies:
        _write_policy(out, p)
    out.write("Namespaces: the PodSecurityPolicies their service accounts may use, and the label to use instead\n")
    for r in rows:
        name = "every other namespace" if r.everywhere else _ns(r.namespace)
        if r.level is None:
            out.write(f"  {name}: none\n")
            continue
        used = ", ".join(f"{p.name} ({p.assessment.level.value})" for p in r.policies)
        out.write(f"  {name}: {used} -> {psp.ENFORCE_LABEL}={r.level.value}\n")


def _write_policy(out: TextIO, p: Policy) -> None:
    """A policy: where it is, its level and what keeps it from the next, what it mutates, who may use it."""
    a = p.assessment
    where = f"{p.placed.file}:{p.placed.line}" if p.placed.line else p.placed.file or "-"
    out.write(f"{where} PodSecurityPolicy {p.name}\n")
    out.write(f"  equivalent to: {a.level.value}\n")
    if a.next_level is not None:
        out.write(f"  kept from {a.next_level.value} by:\n")
        for b in a.blocking():
            out.write(f"    {b.field} = {b.value}: {a.next_level.value} needs {b.needs}\n")
    if a.mutates:
        out.write("  mutates pods: yes (Pod Security Admission never does: set these in the pods themselves)\n")
        for m in a.mutations:
            out.write(f"    {m.field}: {m.effect}\n")
    else:
        out.write("  mutates pods: no\n")
    out.write(f"  instead: {psp.ENFORCE_LABEL}={a.level.value}\n")
    _write_users(out, p.users)
    out.write("\n")


def _write_users(out: TextIO, users: Sequence[Grant]) -> None:
    if not users:
        out.write("  may be used by: nobody in the input's RBAC (no role grants use on it)\n")
        return
    out.write("  may be used by:\n")
    for g in users:
        scope = "in every namespace" if g.everywhere else f"in namespace {_ns(g.namespace)}"
        out.write(f"    {g.subject} through {g.binding.label}, {scope}\n")


def _ns(name: str | None) -> str:
    return f'"{name}"' if name is not None else "(the namespace of objects that name none)"
