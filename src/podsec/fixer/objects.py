"""Fixing one object: evaluate, apply the fixes the checks offer, evaluate again (no I/O).

The object is edited in place, round after round, until no fix applies any more (a fix can
make another one possible: once ``privileged`` is removed, ``allowPrivilegeEscalation: false``
is valid), so that a second run has nothing left to do. Only the violations that are reported
(no exemption covers them, no ``--ignore`` hides them) are fixed. Each finding of the first
evaluation is then fixed, or still there: needing ``--unsafe``, or a human (with why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from podsec import engine, remedies
from podsec.checks import Check, Fix, FixOptions, Safety, Violation
from podsec.evaluate import Context, Prepared, evaluate_object, prepare
from podsec.findings import Finding, InputError, ObjectResult
from podsec.model.paths import Path

MAX_ROUNDS = 4


class Status(StrEnum):
    FIXED = "fixed"
    UNSAFE = "needs --unsafe"
    HUMAN = "needs a human"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one finding: fixed, or what it needs; ``how`` is the fix's title (or the
    check's remediation), ``why`` what to verify or decide."""

    status: Status
    finding: Finding
    how: str
    why: str = ""


@dataclass(slots=True)
class ObjectFix:
    """One object's fix: the JSON Patch that was applied to it and what became of its findings."""

    ops: list[remedies.Op] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    before: ObjectResult | None = None
    after: ObjectResult | None = None


_Key = tuple[str, str | None, Path]  # check id, pod label, field


def _key(f: Finding) -> _Key:
    return f.check.id, f.pod, f.field


@dataclass(slots=True)
class _Round:
    """The fixes offered, by finding (the latest round's), and the edits refused (by path)."""

    offered: dict[_Key, tuple[Fix, ...]] = field(default_factory=dict)
    refused: dict[Path, str] = field(default_factory=dict)


def fix_object(
    obj: Any,
    ctx: Context,
    options: FixOptions,
    *,
    unsafe: bool,
    shared: frozenset[int] = frozenset(),
    evaluated: tuple[Prepared, ObjectResult] | None = None,
    **where: Any,
) -> ObjectFix | list[InputError] | None:
    """Fix ``obj`` in place; ``where`` is what `evaluate_object` needs to locate findings;
    ``evaluated``: its pods and their evaluation, when the caller has them (`podsec.pipeline`)."""
    if evaluated is None:
        read = prepare(obj, ctx.kinds)
        outcome = evaluate_object(obj, ctx, prepared=read if isinstance(read, Prepared) else None, **where)
        if not isinstance(outcome, ObjectResult):
            return outcome
        if not isinstance(read, Prepared):  # (evaluate_object reports these errors itself)
            return read
        evaluated = read, outcome
    pods, first = evaluated
    done = ObjectFix(before=first, after=first)
    current, seen = first, _Round()
    for _ in range(MAX_ROUNDS):
        if not current.findings:
            break
        ops = _round(obj, ctx, options, current, pods, seen, unsafe=unsafe, shared=shared)
        if not ops:
            break
        done.ops += ops
        again = prepare(obj, ctx.kinds)
        after = evaluate_object(obj, ctx, prepared=again if isinstance(again, Prepared) else None, **where)
        if not isinstance(after, ObjectResult) or not isinstance(again, Prepared):  # a podsec bug
            raise RuntimeError(f"the fixed object no longer reads: {after}")
        pods = again
        if {_key(f) for f in after.findings} <= {_key(f) for f in current.findings}:
            current = done.after = after  # nothing new: the fixes already offered are all there is
            break
        current = done.after = after
    done.outcomes = _outcomes(first, current, seen, unsafe=unsafe)
    return done


def _round(
    obj: Any,
    ctx: Context,
    options: FixOptions,
    result: ObjectResult,
    pods: Prepared,
    seen: _Round,
    *,
    unsafe: bool,
    shared: frozenset[int],
) -> list[remedies.Op]:
    """Plan and apply the fixes of one evaluation; what was offered is added to ``seen``."""
    reported = {_key(f) for f in result.findings}
    ops: list[remedies.Op] = []
    for view in pods.views:

        def keep(check: Check, v: Violation, label: str | None = view.label) -> bool:
            return (check.id, label, v.path) in reported

        planned = remedies.plan(view, engine.evaluate(view, ctx.policy), options, keep)
        for p in planned:
            for v in p.violations:
                seen.offered[(p.check.id, view.label, v.path)] = p.fixes_of(v.owner)
        chosen = remedies.edits(planned, lambda f: f.safety is Safety.SAFE or (unsafe and f.safety is Safety.UNSAFE))
        applied = remedies.apply(obj, chosen, shared=shared)
        ops += applied.ops
        seen.refused.update((e.path, why) for e, why in applied.refused)
    return ops


def beyond_the_pod(f: Finding) -> Outcome:
    """A finding about what is not a pod (a namespace without a default-deny NetworkPolicy, a policy
    rule open to all, a PodSecurityPolicy): a human's to fix, as the check's remediation says."""
    why = "not a pod's setting (podsec fix writes no NetworkPolicy, changes no policy or RBAC object): "
    return Outcome(Status.HUMAN, f, "", why + f.check.remediation)


def _outcomes(first: ObjectResult, final: ObjectResult, last: _Round, *, unsafe: bool) -> list[Outcome]:
    remaining = {_key(f): f for f in final.findings}
    out = []
    for f in first.findings:
        offered = last.offered.get(_key(f), ())
        how = offered[0].title if offered else ""
        if _key(f) not in remaining:
            out.append(Outcome(Status.FIXED, f, how))
            continue
        out.append(_remaining(f, offered, last.refused, unsafe=unsafe))
    for k, f in remaining.items():  # a finding the fixes themselves caused (none should)
        if k not in {_key(g) for g in first.findings}:
            out.append(Outcome(Status.HUMAN, f, "", "appeared after the fixes"))
    return out


def _remaining(f: Finding, offered: tuple[Fix, ...], refused: Mapping[Path, str], *, unsafe: bool) -> Outcome:
    for fix in offered:
        if fix.safety is Safety.UNSAFE and not unsafe:
            return Outcome(Status.UNSAFE, f, fix.title, fix.reason)
    for fix in offered:
        for e in fix.edits:
            why = refused.get(e.path)
            if why:
                return Outcome(Status.HUMAN, f, fix.title, why)
    for fix in offered:
        if fix.safety is Safety.MANUAL:
            return Outcome(Status.HUMAN, f, fix.title, fix.reason)
    return Outcome(Status.HUMAN, f, offered[0].title if offered else "", "no automatic fix")
