"""The safe fix of each finding of a scan, as text replacements (``fixes`` in SARIF reports).

For every finding that a SAFE fix remediates, the fix alone is applied to a copy of its object
and written into the file's text as `podsec fix` would (`podsec.fixer.text`); the lines that
change become the finding's replacements. Files podsec does not edit (Helm output and
templates, kustomize renderings, JSON, standard input) get none.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
from typing import Any

from podsec import engine, kyaml, remedies, textscan
from podsec.checks import Fix, FixOptions, Safety
from podsec.evaluate import Context, Prepared, prepare
from podsec.findings import FileResult, Finding, ObjectResult, Replacement, TextFix
from podsec.fixer import text
from podsec.model.objects import Located
from podsec.model.paths import Path
from podsec.sources.files import has_helm_syntax, read_objects

_Key = tuple[str, str | None, Path]


def _key(f: Finding) -> _Key:
    return f.check.id, f.pod, f.field


def attach(result: FileResult, ctx: Context) -> FileResult:
    """``result`` with ``fix`` set on each finding that a safe fix remediates (its file is read again)."""
    if result.file is None or result.sources or not os.path.isfile(result.file):
        return result
    if not any(o.findings for o in result.objects):
        return result
    try:
        with open(result.file, "rb") as fh:
            data = fh.read()
        if textscan.looks_like_json(data) or has_helm_syntax(data):
            return result
        located = {
            item.line: item
            for item in read_objects(data, result.file, ctx.kinds)
            if isinstance(item, Located) and item.template is None
        }
        objects = [_with_fixes(o, located.get(o.line), data, ctx) for o in result.objects]
    except Exception:  # a fix the report cannot show is left out, never the report
        return result
    return dataclasses.replace(result, objects=objects)


def _with_fixes(result: ObjectResult, item: Located | None, data: bytes, ctx: Context) -> ObjectResult:
    if item is None or not result.findings:
        return result
    offered = _offered(item, ctx)
    findings = []
    for f in result.findings:
        safe = [fix for fix in offered.get(_key(f), ()) if fix.safety is Safety.SAFE]
        found = _text_fix(item, safe, data) if safe else None
        findings.append(dataclasses.replace(f, fix=found) if found is not None else f)
    return dataclasses.replace(result, findings=tuple(findings))


def _offered(item: Located, ctx: Context) -> dict[_Key, tuple[Fix, ...]]:
    pods = prepare(item.obj, ctx.kinds)
    offered: dict[_Key, tuple[Fix, ...]] = {}
    if not isinstance(pods, Prepared):
        return offered
    for view in pods.views:
        for p in remedies.plan(view, engine.evaluate(view, ctx.policy), FixOptions()):
            for v in p.violations:
                offered[(p.check.id, view.label, v.path)] = p.fixes_of(v.owner)
    return offered


def _text_fix(item: Located, fixes: list[Fix], data: bytes) -> TextFix | None:
    obj: Any = copy.deepcopy(item.obj)
    shared = remedies.shared_nodes(obj) if kyaml.may_alias(data) or b"<<" in data else frozenset()
    applied = remedies.apply(obj, remedies.edits_of(fixes), shared=shared)
    if not applied.ops:
        return None
    start, end = item.span
    chunk = data[start:end].decode("utf-8")
    try:
        new = text.edit_yaml(chunk, [(item.part, item.path, applied.ops, obj)])
    except text.EditError:
        return None
    base = len(data[:start].decode("utf-8"))
    first_line = data[:start].count(b"\n") + 1
    old_lines, new_lines = text.lines(chunk), text.lines(new)
    offsets = [0]
    for line in old_lines:
        offsets.append(offsets[-1] + len(line))
    replacements = tuple(
        Replacement(base + offsets[i1], offsets[i2] - offsets[i1], "".join(new_lines[j1:j2]), first_line + i1)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes()
        if tag != "equal"
    )
    return TextFix("; ".join(dict.fromkeys(f.title for f in fixes)), replacements)
