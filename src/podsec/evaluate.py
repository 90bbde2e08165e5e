"""Evaluate one parsed object: pods → checks → findings with locations → exemptions (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from podsec import engine, exemptions
from podsec.checks import governance
from podsec.checks._base import Check, Severity
from podsec.exemptions import Exemption, ExemptionError
from podsec.findings import Finding, InputError, ObjectResult, Suppressed
from podsec.model import pod as podmodel
from podsec.model.paths import Path, PosDict, format_path, locate, parse_path
from podsec.model.schema import describe
from podsec.model.workloads import KindTable, ObjectRef

if TYPE_CHECKING:
    from podsec.rego.policies import PolicySet


@dataclass(frozen=True, slots=True)
class Context:
    """What every evaluation needs; built once per run."""

    policy: engine.Policy
    kinds: KindTable
    severity: Mapping[str, Severity] = field(default_factory=dict)  # per-check overrides
    exemptions: tuple[Exemption, ...] = ()  # from the config file
    annotation_exemptions: bool = True  # honour podsec.io/exempt annotations
    today: date | None = None  # for expiry; None: exemptions never expire
    policies: PolicySet | None = None  # Rego policies (--policy)
    explain: bool = False  # attach the effective security context to each result (for HTML reports)
    ignore: frozenset[str] = frozenset()  # check ids never reported (--ignore; governance findings too)


def _missing(root: Any, path: Path) -> str | None:
    """The path up to its first part that ``root`` lacks (what the user must add)."""
    node = root
    for i, part in enumerate(path):
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            continue
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            continue
        return format_path(path[: i + 1])
    return None


def _position(root: Any, path: Path, line_offset: int) -> tuple[int | None, int | None, bool]:
    pos = locate(root, path)
    if pos is None:
        return None, None, False
    return pos.line + line_offset, pos.column, pos.exact


@dataclass(slots=True)
class _Builder:
    """Turns violations into findings for one object, with its locations and severities."""

    obj: Mapping[str, Any]
    ref: ObjectRef
    ctx: Context
    file: str | None
    line_offset: int
    template: str | None = None

    def finding(
        self,
        check: Check,
        path: Path,
        message: str,
        *,
        pod: str | None,
        container: str | None,
        also: tuple[Check, ...] = (),
    ) -> Finding:
        if isinstance(self.obj, PosDict):
            line, col, exact = _position(self.obj, path, self.line_offset)
        else:  # decoded from JSON (an admission request): no positions to look up
            line, col, exact = None, None, False
        severity = self.severity(check)
        for other in also:  # severity never drops as the profile gets stricter
            severity = min(severity, self.severity(other), key=lambda s: s.rank)
        return Finding(
            check=check.id,
            severity=severity.value,
            level=check.level.value,
            object=self.ref,
            pod=pod,
            container=container,
            field=format_path(path),
            file=self.file,
            line=line,
            column=col,
            location="field" if exact else "parent",
            message=message,
            template=self.template,
            missing=None if exact or line is None else _missing(self.obj, path),
        )

    def severity(self, check: Check) -> Severity:
        return self.ctx.severity.get(check.id, check.severity)


def _annotation_exemptions(
    obj: Mapping[str, Any], views: list[podmodel.PodView], b: _Builder
) -> tuple[list[Exemption], list[Finding]]:
    found: list[Exemption] = []
    problems: list[Finding] = []
    places: dict[Path, Mapping[str, Any]] = {}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        places[("metadata", "annotations")] = meta["annotations"]
    for view in views:
        places.setdefault(view.annotations_path, view.annotations)
    for path, notes in places.items():
        try:
            exemption = exemptions.from_annotations(notes, path)
        except ExemptionError as exc:
            key = next((k for k in exemptions.ANNOTATION_KEYS if k in notes), exemptions.EXEMPT)
            msg = f"exemption ({exc}; it is ignored)"
            problems.append(b.finding(governance.INVALID, (*path, key), msg, pod=None, container=None))
            continue
        if exemption is not None:
            found.append(exemption)
    return found, problems


def _expired_message(e: Exemption) -> str:
    assert e.until is not None
    names = ", ".join(sorted(e.checks))
    return (
        f"exemption ({e.where} for {names} expired on {e.until.isoformat()}; "
        f"its findings are reported again. Reason given: {e.reason})"
    )


def _apply_exemptions(
    findings: list[Finding],
    images: Mapping[tuple[str | None, str | None], str | None],
    candidates: list[Exemption],
    b: _Builder,
) -> tuple[list[Finding], list[Suppressed]]:
    today = b.ctx.today
    active = [e for e in candidates if today is None or not e.expired(today)]
    expired = [e for e in candidates if today is not None and e.expired(today)]
    kept: list[Finding] = []
    suppressed: list[Suppressed] = []
    used_expired: list[Exemption] = [e for e in expired if e.source == "annotation"]
    for f in findings:
        image = images.get((f.pod, f.container))
        match = next((e for e in active if e.covers(f.check, f.container, image)), None)
        if match is not None:
            suppressed.append(Suppressed(f, match))
            continue
        kept.append(f)
        for e in expired:
            if e not in used_expired and e.covers(f.check, f.container, image):
                used_expired.append(e)
    for e in used_expired:
        path = e.path or ("metadata",)
        kept.append(b.finding(governance.EXPIRED, path, _expired_message(e), pod=None, container=None))
    return kept, suppressed


def evaluate_object(
    obj: Mapping[str, Any],
    ctx: Context,
    *,
    file: str | None,
    line_offset: int = 0,
    object_line: int | None = None,
    template: str | None = None,
) -> ObjectResult | list[InputError] | None:
    """Findings for one object; input errors when its fields cannot be decoded;
    None when it carries no pod."""
    ref = ObjectRef.of(obj)
    bad_template = ctx.kinds.template_problem(obj)
    if bad_template is not None:
        path, value = bad_template
        line, col, _ = _position(obj, path, line_offset)
        return [
            InputError(file, line, f"{ref}: {format_path(path)}: expected a mapping, got {describe(value)}", col, ref)
        ]
    sources = ctx.kinds.pod_sources(obj)
    if not sources and (ctx.policies is None or ctx.policies.scope != "all"):
        return None
    errors: list[InputError] = []
    findings: list[Finding] = []
    verdicts: list[tuple[str | None, str]] = []
    views: list[podmodel.PodView] = []
    images: dict[tuple[str | None, str | None], str | None] = {}
    b = _Builder(obj, ref, ctx, file, line_offset, template or _origin(obj))
    for src in sources:
        problems = podmodel.validate_pod(obj, src)
        if problems:
            for p in problems:
                line, col, _ = _position(obj, p.path, line_offset)
                errors.append(InputError(file, line, f"{ref}: {format_path(p.path)}: {p.message}", col, ref))
            continue
        view = podmodel.build_pod(obj, src)
        views.append(view)
        images.update(((src.label, c.name), c.image) for c in view.containers)
        results = engine.evaluate(view, ctx.policy)
        verdict = engine.verdict(results, ctx.policy)
        if verdict:
            verdicts.append((src.label, verdict))
        for result in results:
            for v in result.violations:
                msg = result.message() if len(result.violations) == 1 else result.message([v])
                also = result.also.get(v.path, ())
                findings.append(b.finding(result.check, v.path, msg, pod=src.label, container=v.container, also=also))
    if errors:
        return errors
    policy_errors: list[InputError] = []
    if ctx.policies is not None:
        policy_findings, policy_errors = _policy_findings(obj, views, ctx.policies, b, object_line)
        findings += policy_findings
    candidates = list(exemptions.applicable(ctx.exemptions, ref))
    if ctx.annotation_exemptions:
        from_annotations, invalid = _annotation_exemptions(obj, views, b)
        candidates += from_annotations
        findings += invalid
    kept, suppressed = _apply_exemptions(findings, images, candidates, b)
    if ctx.ignore:
        kept = [f for f in kept if f.check not in ctx.ignore]
    details = _details(obj, views, b, object_line) if ctx.explain and sources else None
    return ObjectResult(
        ref,
        file,
        object_line,
        tuple(kept),
        tuple(verdicts),
        tuple(suppressed),
        tuple(policy_errors),
        details,
        carries_pod=bool(sources),
    )


def _details(
    obj: Mapping[str, Any], views: list[podmodel.PodView], b: _Builder, object_line: int | None
) -> Mapping[str, Any]:
    """The explain view of the pods just evaluated (no second validation or build)."""
    from podsec import explain

    return explain.as_data(explain.from_views(obj, views, file=b.file, line_offset=b.line_offset, line=object_line))


def _origin(obj: Mapping[str, Any]) -> str | None:
    """Where kustomize says the object came from (``buildMetadata: [originAnnotations]``)."""
    meta = obj.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    origin = notes.get("config.kubernetes.io/origin") if isinstance(notes, dict) else None
    if not isinstance(origin, str):
        return None
    fields = dict(line.split(":", 1) for line in origin.splitlines() if ":" in line)
    path = fields.get("path", "").strip()
    repo = fields.get("repo", "").strip()
    return f"{repo}//{path}" if repo and path else path or None


def _policy_findings(
    obj: Mapping[str, Any], views: list[podmodel.PodView], policies: PolicySet, b: _Builder, object_line: int | None
) -> tuple[list[Finding], list[InputError]]:
    view = _details(obj, views, b, object_line) if policies.uses_view else None
    results, failures = policies.evaluate(obj, view)
    findings = []
    for r in results:
        path = parse_path(r.field) if r.field else None
        if path:
            findings.append(b.finding(r.check, path, r.message, pod=None, container=r.container))
        else:  # no field given: the finding points at the object
            f = b.finding(r.check, (), r.message, pod=None, container=r.container)
            findings.append(replace(f, field="", line=object_line or f.line, column=None, location="parent"))
    errors = [
        InputError(b.file, object_line, f"{b.ref}: policy {rule.query} failed: {err}", None, b.ref)
        for rule, err in failures
    ]
    return findings, errors
