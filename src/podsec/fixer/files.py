"""Fixing one file: read its objects, fix each, and write the edits into its text.

A file is edited only when it is the manifest itself: not standard input's rendering by
kustomize, not Helm output (``# Source:``) nor a template (``{{ … }}``), not an object whose
``config.kubernetes.io/origin`` says it was rendered from another file. For those, each fix is
a suggestion naming the file to change instead: the kustomize source (and line), the Helm
template and, where podsec can tell, the ``values.yaml`` key.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from podsec import kyaml, pipeline, remedies, textscan
from podsec.checks import FixOptions
from podsec.evaluate import Context, Prepared, evaluate, read_pods
from podsec.evaluate import Outcome as EvalOutcome
from podsec.findings import FileResult, InputError, ObjectResult
from podsec.fixer import text
from podsec.fixer.objects import ObjectFix, Outcome, Status, beyond_the_pod, fix_object
from podsec.model.objects import Located, ObjectRef
from podsec.model.paths import Path
from podsec.sources.files import Target, has_helm_syntax, internal_error, read_target


@dataclass(frozen=True, slots=True)
class Patch:
    """The JSON Patch of one object (``-o json-patch``)."""

    file: str
    object: ObjectRef
    path: Path  # where the object is in its document: () or ("items", i)
    document: int  # which document of the file (1-based)
    ops: list[remedies.Op]


@dataclass(slots=True)
class FileFix:
    name: str
    path: str | None = None  # on disk: where to write
    before: bytes = b""
    after: bytes | None = None  # the fixed text, when the file itself is to change
    outcomes: list[Outcome] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    rendered: str = ""  # why the file is not edited (its fixes are suggestions), if it is not
    spans: list[tuple[int, int, bytes]] = field(default_factory=list)  # (start, end, new text) of edited parts
    facts: object | None = None  # what the analyses beyond the pod need from it (`podsec.beyond.complete`)

    @property
    def changed(self) -> bool:
        return self.after is not None and self.after != self.before


def _rendered(target: Target, data: bytes, item: Located) -> str:
    if target.relocate is not None:
        return "rendered by kustomize: change the source files"
    if item.template is not None:
        return f"rendered by Helm from {item.template}: change the template or its values"
    if has_helm_syntax(data):
        return "a Helm template: change it by hand (or its values)"
    meta = item.obj.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(notes, dict) and "config.kubernetes.io/origin" in notes:
        return "rendered by kustomize (config.kubernetes.io/origin): change the source file"
    return ""


def fix_target(target: Target, ctx: Context, options: FixOptions, *, unsafe: bool) -> FileFix:
    """One file's fix; whatever goes wrong is an error of this file, never of the run."""
    out = FileFix(target.name, target.path)
    try:
        data = read_target(target)
        if isinstance(data, InputError):
            out.errors.append(data)
            return out
        out.before = data
        _fix_bytes(target, data, ctx, options, out, unsafe=unsafe)
        if not out.changed:  # what an unchanged file holds is not needed again (nor sent between processes)
            out.before, out.after, out.spans = b"", None, []
    except Exception as exc:
        out.after = None
        out.errors.append(internal_error(target.name, None, exc, debug=ctx.debug))
    return out


class _Evaluator:
    """A scan's evaluation of each object (`podsec.pipeline.Evaluator`) that keeps the pods it read
    and their result, for the fix of the object the pipeline yields next."""

    def __init__(self) -> None:
        self.last: tuple[Located, Prepared, ObjectResult] | None = None

    def __call__(self, item: Located, ctx: Context) -> EvalOutcome:
        pods = read_pods(item, ctx.kinds)
        outcome = evaluate(item, ctx, pods)
        self.last = (item, pods, outcome) if isinstance(pods, Prepared) and isinstance(outcome, ObjectResult) else None
        return outcome

    def of(self, item: Located) -> tuple[Prepared, ObjectResult] | None:
        if self.last is None or self.last[0] is not item:
            return None
        return self.last[1], self.last[2]


def _fix_bytes(target: Target, data: bytes, ctx: Context, options: FixOptions, out: FileFix, *, unsafe: bool) -> None:
    """Fix what a scan of the file finds (`podsec.pipeline`: the same objects, findings, errors and
    facts beyond the pod), each object as the pipeline hands it on."""
    anchors = kyaml.may_alias(data) or b"<<" in data
    edited: list[tuple[Located, list[remedies.Op]]] = []
    scanned = FileResult(target.name)
    evaluator = _Evaluator()
    for item, shown in pipeline.evaluated(data, scanned, ctx, target.relocate, evaluator):
        evaluated = evaluator.of(item)
        if evaluated is None:  # nothing in it a fix can change: findings beyond the pod only
            out.outcomes += [beyond_the_pod(f) for f in shown.findings]
            continue
        rendered = _rendered(target, data, item)
        obj: Any = copy.deepcopy(item.obj) if rendered else item.obj
        where = {"file": target.name, "line_offset": item.line_offset, "object_line": item.line}
        shared = remedies.shared_nodes(obj) if anchors else frozenset()
        try:
            result = fix_object(obj, ctx, options, unsafe=unsafe, shared=shared, evaluated=evaluated, **where)
            assert isinstance(result, ObjectFix)  # (evaluated: its pods are read)
            out.outcomes += _shown(result, evaluated[1], shown)
        except Exception as exc:  # one object's bug must not hide the others
            out.errors.append(internal_error(target.name, item.line, exc, debug=ctx.debug))
            continue
        if rendered:
            out.rendered = out.rendered or rendered
        elif result.ops:
            edited.append((item, result.ops))
            ref = ObjectRef.of(item.obj)
            out.patches.append(Patch(target.name, ref, item.path, item.document, result.ops))
    out.errors[:0] = scanned.errors
    out.facts = scanned.facts
    if edited:
        _write_text(data, edited, out)


def _shown(result: ObjectFix, first: ObjectResult, shown: ObjectResult) -> list[Outcome]:
    """The outcomes with their findings as the scan shows them (moved to the files to change:
    kustomize sources, values.yaml keys of Helm charts), and the findings beyond the pod the scan
    added after them (for a human)."""
    n = len(first.findings)
    moved = [replace(o, finding=f) for o, f in zip(result.outcomes[:n], shown.findings[:n], strict=True)]
    return moved + result.outcomes[n:] + [beyond_the_pod(f) for f in shown.findings[n:]]


def _write_text(data: bytes, edited: list[tuple[Located, list[remedies.Op]]], out: FileFix) -> None:
    try:
        if textscan.looks_like_json(data):
            try:
                fixed = text.edit_json(data.decode("utf-8"), [(item.path, ops) for item, ops in edited])
            except ValueError:
                pass  # YAML in flow style, not JSON: edited as YAML below
            else:
                out.after, out.spans = fixed.encode("utf-8"), [(0, len(data), fixed.encode("utf-8"))]
                return
        by_span: dict[tuple[int, int], list[tuple[int, Path, list[remedies.Op], Any]]] = {}
        for item, ops in edited:
            by_span.setdefault(item.span, []).append((item.part, item.path, ops, item.obj))
        pieces, at = [], 0
        for (start, end), objects in sorted(by_span.items()):
            new = text.edit_yaml(data[start:end].decode("utf-8"), objects).encode("utf-8")
            pieces += [data[at:start], new]
            out.spans.append((start, end, new))
            at = end
        out.after = b"".join([*pieces, data[at:]])
    except text.EditError as exc:
        out.after, out.spans = None, []
        fixed_here = {id(o) for o in out.outcomes if o.status is Status.FIXED}
        out.outcomes = [
            replace(o, status=Status.HUMAN, why=str(exc)) if id(o) in fixed_here else o for o in out.outcomes
        ]
        out.patches.clear()
