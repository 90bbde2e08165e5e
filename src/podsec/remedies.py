"""From a check's violations to its fixes, and from fixes to an RFC 6902 JSON Patch (pure).

Checks declare what remediates them (`Check.fix`, `podsec.checks._fix`); this module asks them
(`plan`), picks the edits a caller may make (`edits`: the webhook only ``admission`` fixes,
the fixer SAFE ones, or UNSAFE ones too), and applies them to an object, returning the JSON
Patch operations that did it (`apply`). The operations are computed against the object as it
is at each step, so they apply in order to the original; the webhook returns them, the fixer
replays them on the file's text (`podsec.fixer.yamltext`) or writes them out (``-o json-patch``).

An edit under a mapping or list that the YAML shares through an anchor (an alias, or a merge
key, makes one node appear in several places) is refused, never applied behind the user's back
to every place that shares it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podsec.checks import AddToList, Check, Edit, Fix, FixOptions, Remove, Replace, SetDefault, Violation
from podsec.engine import CheckResult
from podsec.model.paths import Path
from podsec.model.pod import PodView

Op = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Planned:
    """What one failing check offers for the violations of one pod that are to be fixed."""

    check: Check
    violations: tuple[Violation, ...]
    fixes: tuple[Fix, ...]

    def fixes_of(self, owner: Path) -> tuple[Fix, ...]:
        return tuple(f for f in self.fixes if f.owner == owner)


def plan(
    view: PodView,
    results: Iterable[CheckResult],
    options: FixOptions,
    keep: Callable[[Check, Violation], bool] | None = None,
) -> list[Planned]:
    """The fixes each failing check offers; ``keep`` chooses the violations to fix (those no
    exemption covers); a check without a remedy offers none."""
    planned = []
    for result in results:
        violations = tuple(v for v in result.violations if keep is None or keep(result.check, v))
        if not violations:
            continue
        remedy = result.check.fix
        fixes = tuple(remedy(view, violations, options)) if remedy is not None else ()
        planned.append(Planned(result.check, violations, fixes))
    return planned


def edits(planned: Iterable[Planned], allowed: Callable[[Fix], bool]) -> list[Edit]:
    """The edits of the allowed fixes (`edits_of`)."""
    return edits_of(fix for p in planned for fix in p.fixes if allowed(fix))


def edits_of(fixes: Iterable[Fix]) -> list[Edit]:
    """The edits of the fixes, each once (checks overlap), removals last and from the end of
    each list first (so that every index still names the item it named)."""
    seen: dict[str, Edit] = {}  # by repr: values may be mappings (unhashable)
    for fix in fixes:
        seen.update((repr(e), e) for e in fix.edits)
    kept = [e for e in seen.values() if not isinstance(e, Remove)]
    removals = sorted((e for e in seen.values() if isinstance(e, Remove)), key=lambda e: _order(e.path), reverse=True)
    return [*kept, *removals]


def _order(path: Path) -> tuple[tuple[int, str], ...]:
    return tuple((p, "") if isinstance(p, int) else (-1, p) for p in path)


@dataclass(slots=True)
class Applied:
    """What `apply` did: the JSON Patch operations, and the edits it refused (with why)."""

    ops: list[Op] = field(default_factory=list)
    refused: list[tuple[Edit, str]] = field(default_factory=list)


class _Refused(Exception):
    pass


def _escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(path: Sequence[str | int]) -> str:
    """The JSON Pointer (RFC 6901) of a path."""
    return "".join("/" + _escape(p) for p in path)


def shared_nodes(root: object) -> frozenset[int]:
    """The ids of the mappings and lists reachable by more than one way (YAML anchors and
    aliases, or merge keys, give shared objects): where an edit would change several places."""
    seen: set[int] = set()
    shared: set[int] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if id(node) in seen:
            shared.add(id(node))
            continue
        seen.add(id(node))
        todo.extend(children)
    return frozenset(shared)


def apply(obj: Any, planned_edits: Iterable[Edit], *, shared: frozenset[int] = frozenset()) -> Applied:
    """Apply the edits to ``obj`` in place; the operations that did it, in order."""
    done = Applied()
    for edit in planned_edits:
        try:
            op = _apply(obj, edit, shared)
        except _Refused as exc:
            done.refused.append((edit, str(exc)))
            continue
        if op is not None:
            done.ops.append(op)
    return done


def _walk(root: Any, path: Path, shared: frozenset[int]) -> tuple[Any, int]:
    """(the deepest node on ``path`` that exists and is not null, how many parts led to it)."""
    node = root
    for i, part in enumerate(path):
        if id(node) in shared:
            raise _Refused(f"{pointer(path[:i]) or 'the object'} is shared through a YAML anchor; edit it by hand")
        child = _child(node, part)
        if child is None:
            return node, i
        node = child
    return node, len(path)


def _child(node: Any, part: str | int) -> Any:
    """``node[part]``, or None when it is absent (or of another type)."""
    if isinstance(part, str):
        return node.get(part) if isinstance(node, dict) else None
    return node[part] if isinstance(node, list) and 0 <= part < len(node) else None


def _nest(rest: Path, value: Any) -> Any:
    for part in reversed(rest):
        if not isinstance(part, str):
            raise _Refused("no such list item")
        value = {part: value}
    return value


def _set(node: Any, path: Path, depth: int, value: Any) -> Op | None:
    """Add ``value`` at ``path`` whose first ``depth`` parts exist (``node`` the last of them)."""
    part = path[depth]
    if not isinstance(node, dict) or not isinstance(part, str):
        return None  # a wrong type on the way (the model reports it): nothing to edit
    made = _nest(path[depth + 1 :], value)
    node[part] = copy.deepcopy(made)
    return {"op": "add", "path": pointer(path[: depth + 1]), "value": made}


def _apply(obj: Any, edit: Edit, shared: frozenset[int]) -> Op | None:
    if isinstance(edit, Remove):
        return _remove(obj, edit, shared)
    node, depth = _walk(obj, edit.path, shared)
    if isinstance(edit, SetDefault):
        return None if depth == len(edit.path) else _set(node, edit.path, depth, edit.value)
    if isinstance(edit, AddToList):
        return _add_to_list(node, depth, edit, shared)
    return _replace(obj, node, depth, edit, shared)


def _remove(obj: Any, edit: Remove, shared: frozenset[int]) -> Op | None:
    parent, depth = _walk(obj, edit.path[:-1], shared)
    last = edit.path[-1]
    if depth < len(edit.path) - 1:
        return None
    if id(parent) in shared:
        return _refuse(edit.path)
    if _child(parent, last) is None and not (isinstance(parent, dict) and last in parent):
        return None
    if isinstance(parent, list) and len(parent) == 1 and len(edit.path) > 1:  # the last item: the list goes
        return _remove(obj, Remove(edit.path[:-1]), shared)
    del parent[last]
    return {"op": "remove", "path": pointer(edit.path)}


def _add_to_list(node: Any, depth: int, edit: AddToList, shared: frozenset[int]) -> Op | None:
    if depth < len(edit.path):
        return _set(node, edit.path, depth, list(edit.items))
    if not isinstance(node, list):
        return None
    if id(node) in shared:
        return _refuse(edit.path)
    new = [item for item in edit.items if item not in node]
    if not new:
        return None
    node.append(new[0])  # one item per operation: "-" appends one
    return {"op": "add", "path": pointer((*edit.path, "-")), "value": new[0]}


def _replace(obj: Any, node: Any, depth: int, edit: Replace, shared: frozenset[int]) -> Op | None:
    if depth < len(edit.path) or type(node) is not type(edit.old) or node != edit.old:
        return None
    parent, _ = _walk(obj, edit.path[:-1], shared)
    if id(parent) in shared:
        return _refuse(edit.path)
    parent[edit.path[-1]] = edit.value
    return {"op": "replace", "path": pointer(edit.path), "value": edit.value}


def _refuse(path: Path) -> Op | None:
    raise _Refused(f"{pointer(path[:-1])} is shared through a YAML anchor; edit it by hand")


class TooManyOperations(Exception):
    """A patch would take more operations than its limit."""


def admission_patch(
    obj: Mapping[str, Any], view_results: Iterable[tuple[PodView, list[CheckResult]]], *, limit: int | None = None
) -> list[Op]:
    """The webhook's patch: the ``admission`` fixes of every pod of ``obj`` (edited in place);
    TooManyOperations past ``limit`` operations (checked as they are made: memory stays bounded)."""
    ops: list[Op] = []
    for view, results in view_results:
        for edit in edits(plan(view, results, FixOptions()), lambda f: f.admission and f.safety == "safe"):
            ops += apply(obj, (edit,)).ops
            if limit is not None and len(ops) > limit:
                raise TooManyOperations(f"more than {limit} operations")
    return ops
