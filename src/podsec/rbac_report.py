"""`podsec rbac`: who can run privileged pods, exec, escalate or impersonate — as findings and a report.

`podsec.analysis.rbac` decides; this module turns its `Access` into findings on the bindings'
subjects (``rbacPrivilegedPods``, ``rbacExec``, ``rbacEscalate``, ``rbacImpersonate``), into the
per-namespace headline of the text report, and into the ``rbac`` section of the JSON report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from podsec import evaluate
from podsec.analysis import rbac
from podsec.analysis.rbac import Access, Grant, PrivilegedRunner
from podsec.analysis.rules import BeyondRule, access
from podsec.evaluate import Context
from podsec.findings import FileResult, ObjectResult
from podsec.inventory import Inventory
from podsec.model.paths import Path
from podsec.model.standards import Level

EVERYWHERE = "every namespace without a pod-security.kubernetes.io/enforce label"


def _ns(name: str | None) -> str:
    return f'"{name}"' if name is not None else "(the namespace of objects that name none)"


def _via(g: Grant) -> str:
    b = g.binding
    rule = f"{g.rule.origin} rules[{g.rule.index}]"
    return f"{g.request} through {b.label} ({rule})"


def _levels_text(access_: Access, names: Iterable[str | None], inv: Inventory) -> str:
    out = []
    for name in names:
        level = access_.namespaces.get(name, Level.PRIVILEGED)
        labelled = inv.namespaces.get(name) is not None
        why = "" if labelled else ", no Namespace object in the input"
        out.append(f"{_ns(name)} (enforce {level.value}{why})")
    return ", ".join(out)


def _privileged_message(runner: PrivilegedRunner, grants: Sequence[Grant], access_: Access, inv: Inventory) -> str:
    where: list[str] = []
    scope = [n for n in runner.namespaces if any(g.applies_in(n) for g in grants)]
    if scope:
        where.append("in " + _levels_text(access_, scope, inv))
    if any(g.everywhere for g in grants):
        where.append(f"in {EVERYWHERE}")
    how = "; ".join(_via(g) for g in grants)
    text = f"{runner.subject}: {how}, {' and '.join(where)}"
    relabelled = [n for n in scope if access_.namespaces.get(n) is not Level.PRIVILEGED]
    return text + _relabel_text(runner, relabelled) if relabelled else text


def _relabel_text(runner: PrivilegedRunner, relabelled: Sequence[str | None]) -> str:
    """How a subject can change the labels of the namespaces where that is what lets it run privileged pods."""
    changes = [g for g in runner.grants if g.power is rbac.RELABEL and any(g.applies_in(n) for n in relabelled)]
    names = ", ".join(_ns(n) for n in relabelled)
    return f"; it can change the labels of {names} (" + "; ".join(_via(g) for g in changes[:3]) + ")"


def findings(inv: Inventory, access_: Access, ctx: Context) -> list[FileResult]:
    """The findings, on each binding's subject, grouped by the file of the binding."""
    found: dict[int, list[tuple[BeyondRule, Path, str]]] = {}
    bindings: dict[int, rbac.Binding] = {}

    def add(check: BeyondRule, g: Grant, detail: str) -> None:
        if check.id in ctx.ignore:
            return
        bindings[id(g.binding)] = g.binding
        found.setdefault(id(g.binding), []).append((check, ("subjects", g.subject_index), f"{check.reason} ({detail})"))

    for runner in access_.privileged:
        by_place: dict[tuple[int, int], list[Grant]] = {}
        for g in runner.grants:
            if g.power.runs_pods:
                by_place.setdefault((id(g.binding), g.subject_index), []).append(g)
        for grants in by_place.values():
            add(access.PRIVILEGED_PODS, grants[0], _privileged_message(runner, grants, access_, inv))
    powers = (
        (access.EXEC, (rbac.EXEC,)),
        (access.ESCALATE, (rbac.ESCALATE, rbac.BIND)),
        (access.IMPERSONATE, (rbac.IMPERSONATE,)),
    )
    for check, held in powers:
        by_place = {}
        for g in access_.grants:
            if g.power in held:
                by_place.setdefault((id(g.binding), g.subject_index), []).append(g)
        for grants in by_place.values():
            g = grants[0]
            scope = "in every namespace" if g.everywhere else f"in namespace {_ns(g.namespace)}"
            add(check, g, f"{g.subject}: " + "; ".join(_via(x) for x in grants) + f", {scope}")
    by_file: dict[str | None, list[ObjectResult]] = {}
    for key, items in found.items():
        placed = inv.placed(bindings[key])
        result = evaluate.object_findings(
            placed.obj, ctx, items, file=placed.file, line_offset=placed.line_offset, object_line=placed.line
        )
        by_file.setdefault(placed.file, []).append(result)
    return [FileResult(file, objects=objects, read=False) for file, objects in by_file.items()]


# --- the report -----------------------------------------------------------------------------------


def _subject(s: rbac.Subject) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": s.kind, "name": s.name}
    if s.kind == "ServiceAccount":
        out["namespace"] = s.namespace
    return out


def _grant(g: Grant) -> dict[str, Any]:
    return {
        "subject": _subject(g.subject),
        "binding": {"kind": g.binding.kind, "namespace": g.binding.namespace, "name": g.binding.name},
        "role": {"kind": g.binding.role_kind, "name": g.binding.role_name},
        "rule": {"role": g.rule.origin, "index": g.rule.index},
        "request": str(g.request),
        "everywhere": g.everywhere,
    }


def _non_empty(powers: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {k: v for k, v in powers.items() if v}


def _namespace_section(access_: Access, inv: Inventory, name: str | None, level: Level) -> dict[str, Any]:
    # grants bound in this namespace; those of ClusterRoleBindings apply here too, listed once under "everywhere"
    powers = {p.id: [_grant(g) for g in access_.holders(p, name) if not g.everywhere] for p in rbac.POWERS}
    return {
        "namespace": name,
        "enforce": level.value,
        "namespaceObject": inv.namespaces.get(name) is not None,
        "powers": _non_empty(powers),
    }


def _runner_section(r: PrivilegedRunner) -> dict[str, Any]:
    return {
        "subject": _subject(r.subject),
        "namespaces": list(r.namespaces),
        "everyUnlabelledNamespace": r.everywhere,
        "grants": [_grant(g) for g in r.grants],
    }


def _unnamed_last(name: str | None) -> tuple[bool, str]:
    """Sort key of namespace names: by name, the namespace of objects that name none last."""
    return name is None, name or ""


def section(access_: Access, inv: Inventory) -> dict[str, Any]:
    """The ``rbac`` section of the JSON report."""
    levels = sorted(access_.namespaces.items(), key=lambda kv: _unnamed_last(kv[0]))
    everywhere = {p.id: [_grant(g) for g in access_.grants if g.power is p and g.everywhere] for p in rbac.POWERS}
    return {
        "kubeVersion": f"v{access_.version[0]}.{access_.version[1]}",
        "defaultRoles": inv.defaults,
        "privileged": [_runner_section(r) for r in access_.privileged],
        "namespaces": [_namespace_section(access_, inv, name, level) for name, level in levels],
        "everywhere": _non_empty(everywhere),
    }


def _headline_rows(access_: Access) -> tuple[dict[str | None, list[str]], list[str]]:
    """Who can run a privileged pod and how, per namespace, and in every unlabelled namespace."""
    rows: dict[str | None, list[str]] = {}
    everywhere: list[str] = []
    for r in access_.privileged:
        runs = [g for g in r.grants if g.power.runs_pods]
        for name in r.namespaces:
            here = next(g for g in runs if g.applies_in(name))
            rows.setdefault(name, []).append(f"{r.subject} — {_via(here)}")
        if r.everywhere:
            everywhere.append(f"{r.subject} — {_via(next(g for g in runs if g.everywhere))}")
    return rows, everywhere


def _write_group(out: TextIO, title: str, lines: Iterable[str]) -> None:
    out.write(f"  {title}\n")
    for line in lines:
        out.write(f"    {line}\n")


def write_headline(out: TextIO, access_: Access, inv: Inventory) -> None:
    """Who can run a privileged pod, and where: per namespace, then everywhere."""
    version = f"v{access_.version[0]}.{access_.version[1]}"
    out.write(f"Who can run a privileged pod (Pod Security Admission enforce level privileged or unset; {version})\n")
    rows, everywhere = _headline_rows(access_)
    if not rows and not everywhere:
        out.write("  nobody, in the namespaces of the input\n")
    for name in sorted(rows, key=_unnamed_last):
        _write_group(out, f"namespace {_levels_text(access_, [name], inv)}", rows[name])
    if everywhere:
        _write_group(out, f"{EVERYWHERE} (ClusterRoleBindings)", everywhere)
    safe = [n for n, lv in access_.namespaces.items() if lv is not Level.PRIVILEGED and n not in rows]
    if safe:
        out.write("  nobody in " + ", ".join(_ns(n) for n in sorted(safe, key=lambda n: n or "")) + "\n")
    out.write("\n")


def summary_counts(access_: Access) -> Mapping[str, int]:
    return {p.id: len({(id(g.binding), g.subject_index) for g in access_.grants if g.power is p}) for p in rbac.POWERS}
