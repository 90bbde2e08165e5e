"""Evaluate one parsed object: pods → checks → findings with locations → exemptions (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from podsec import engine, exemptions
from podsec.checks._base import Rule, Severity, Violation
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
    aggregate: bool = False  # one finding per failing check (aggregate message), not one per violation
    # what annotation exemptions may do here (the webhook narrows them); None: as written
    annotation_filter: Callable[[list[Exemption]], list[Exemption]] | None = None
    debug: bool = False  # an internal error carries its traceback (shown by the CLI)
    known_checks: frozenset[str] | None = None  # check ids an annotation exemption may name (None: any)


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
        check: Rule,
        path: Path,
        message: str,
        *,
        pod: str | None,
        container: str | None,
        also: tuple[Rule, ...] = (),
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
            container=None if container is None else str(container),  # a plain str (Unnamed too)
            field=format_path(path),
            file=self.file,
            line=line,
            column=col,
            location="field" if exact else "parent",
            message=message,
            template=self.template,
            missing=None if exact or line is None else _missing(self.obj, path),
        )

    def severity(self, check: Rule) -> Severity:
        return self.ctx.severity.get(check.id, check.severity)


def _annotation_exemptions(
    obj: Mapping[str, Any], views: list[podmodel.PodView], b: _Builder
) -> tuple[list[Exemption], list[Finding], list[InputError]]:
    found: list[Exemption] = []
    problems: list[Finding] = []
    errors: list[InputError] = []
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
            problems.append(b.finding(exemptions.INVALID, (*path, key), msg, pod=None, container=None))
            continue
        if exemption is None:
            continue
        known = b.ctx.known_checks
        unknown = sorted(c for c in exemption.checks if c != "*" and known is not None and c not in known)
        if unknown:  # a typo must not pass for an exemption (the config file refuses it too)
            path_to = (*path, exemptions.EXEMPT)
            line, col, _ = _position(obj, path_to, b.line_offset)
            names = ", ".join(f'"{c}"' for c in unknown)
            message = (
                f"{b.ref}: {format_path(path_to)}: no such check {names} (see `podsec checks`); "
                "the exemption is ignored"
            )
            errors.append(InputError(b.file, line, message, col, b.ref))
            continue
        found.append(exemption)
    return found, problems, errors


def _expired_message(e: Exemption) -> str:
    assert e.until is not None
    names = ", ".join(sorted(e.checks))
    return (
        f"exemption ({e.where} for {names} expired on {e.until.isoformat()}; "
        f"its findings are reported again. Reason given: {e.reason})"
    )


class _Exempter:
    """Matches violations and findings against the exemptions that apply to one object.

    An expired exemption matches nothing; one that would have matched something is reported
    (annotations only: an expired config entry is the admin's to clean up, not the object's).
    """

    __slots__ = ("active", "expired", "used_expired")

    def __init__(self, candidates: list[Exemption], today: date | None) -> None:
        self.active = [e for e in candidates if today is None or not e.expired(today)]
        self.expired = [e for e in candidates if today is not None and e.expired(today)]
        self.used_expired: list[Exemption] = [e for e in self.expired if e.source == "annotation"]

    def match(self, check: str, container: str | None, image: str | None) -> Exemption | None:
        match = next((e for e in self.active if e.covers(check, container, image)), None)
        if match is None:
            for e in self.expired:
                if e not in self.used_expired and e.covers(check, container, image):
                    self.used_expired.append(e)
        return match

    def expired_findings(self, b: _Builder) -> list[Finding]:
        return [
            b.finding(exemptions.EXPIRED, e.path or ("metadata",), _expired_message(e), pod=None, container=None)
            for e in self.used_expired
        ]


def _result_findings(
    result: engine.CheckResult,
    label: str | None,
    images: Mapping[tuple[str | None, str | None], str | None],
    exempter: _Exempter | None,
    b: _Builder,
    findings: list[Finding],
    suppressed: list[Suppressed],
) -> None:
    """The findings of one failing check, exemptions applied violation by violation.

    Per violation (a scan: each has its own line), or, with ``ctx.aggregate``, one finding per
    check for what is kept and one per exemption for what is suppressed, each with the
    check's aggregate message over its violations (what the webhook shows, as PSA does):
    the cost then stays one message per check however many containers a pod has.
    """
    check = result.check
    kept: list[Violation] = []
    hidden: dict[Exemption, list[Violation]] = {}
    if exempter is None or (not exempter.active and not exempter.expired):
        kept = list(result.violations)
    else:
        for v in result.violations:
            container = v.container
            match = exempter.match(check.id, container, images.get((label, container)))
            if match is None:
                kept.append(v)
            else:
                hidden.setdefault(match, []).append(v)
    if b.ctx.aggregate:
        groups: list[tuple[Exemption | None, list[Violation]]] = [(None, kept)] if kept else []
        groups += hidden.items()
        for exemption, violations in groups:
            whole = len(violations) == len(result.violations)
            msg = result.message() if whole else result.message(violations)
            containers = {v.container for v in violations}
            container = containers.pop() if len(containers) == 1 else None
            first = violations[0].path
            f = b.finding(check, first, msg, pod=label, container=container, also=result.also.get(first, ()))
            if exemption is None:
                findings.append(f)
            else:
                suppressed.append(Suppressed(f, exemption))
        return
    single = len(result.violations) == 1
    also = result.also
    for v in kept:
        msg = result.message() if single else result.message([v])
        findings.append(b.finding(check, v.path, msg, pod=label, container=v.container, also=also.get(v.path, ())))
    for exemption, violations in hidden.items():
        for v in violations:
            msg = result.message() if single else result.message([v])
            f = b.finding(check, v.path, msg, pod=label, container=v.container, also=also.get(v.path, ()))
            suppressed.append(Suppressed(f, exemption))


@dataclass(frozen=True, slots=True)
class Prepared:
    """An object's pods, read once: evaluations of one object under several policies share them
    (the webhook evaluates a pod for enforce, audit and warn)."""

    views: tuple[podmodel.PodView, ...]
    images: Mapping[tuple[str | None, str | None], str | None]


def prepare(
    obj: Mapping[str, Any], kinds: KindTable, *, file: str | None = None, line_offset: int = 0
) -> Prepared | list[InputError]:
    """The pod views of ``obj``, or the input errors that keep them from being built."""
    errors: list[InputError] = []
    views: list[podmodel.PodView] = []
    images: dict[tuple[str | None, str | None], str | None] = {}
    for src in kinds.pod_sources(obj):
        problems = podmodel.validate_pod(obj, src)
        if problems:
            ref = ObjectRef.of(obj)
            for p in problems:
                line, col, _ = _position(obj, p.path, line_offset)
                errors.append(InputError(file, line, f"{ref}: {format_path(p.path)}: {p.message}", col, ref))
            continue
        view = podmodel.build_pod(obj, src)
        views.append(view)
        images.update(((src.label, c.label), c.image) for c in view.containers)
    return errors or Prepared(tuple(views), images)


def evaluate_object(
    obj: Mapping[str, Any],
    ctx: Context,
    *,
    file: str | None,
    line_offset: int = 0,
    object_line: int | None = None,
    template: str | None = None,
    prepared: Prepared | None = None,
) -> ObjectResult | list[InputError] | None:
    """Findings for one object; input errors when its fields cannot be decoded;
    None when it carries no pod. ``prepared``: its pods, already read by `prepare`."""
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
    findings: list[Finding] = []
    suppressed: list[Suppressed] = []
    verdicts: list[tuple[str | None, str]] = []
    b = _Builder(obj, ref, ctx, file, line_offset, template or _origin(obj))
    pods = prepared if prepared is not None else prepare(obj, ctx.kinds, file=file, line_offset=line_offset)
    if isinstance(pods, list):
        return pods
    views, images = list(pods.views), pods.images
    candidates = list(exemptions.applicable(ctx.exemptions, ref))
    invalid: list[Finding] = []
    unknown_ids: list[InputError] = []
    if ctx.annotation_exemptions:
        from_annotations, invalid, unknown_ids = _annotation_exemptions(obj, views, b)
        candidates += ctx.annotation_filter(from_annotations) if ctx.annotation_filter else from_annotations
    exempter = _Exempter(candidates, ctx.today) if candidates else None
    for view in views:
        results = engine.evaluate(view, ctx.policy)
        verdict = engine.verdict(results, ctx.policy)
        if verdict:
            verdicts.append((view.label, verdict))
        for result in results:
            _result_findings(result, view.label, images, exempter, b, findings, suppressed)
    policy_errors: list[InputError] = []
    others = invalid
    if ctx.policies is not None:
        policy_findings, policy_errors = _policy_findings(obj, views, ctx.policies, b, object_line)
        others = policy_findings + invalid
    for f in others:
        match = exempter.match(f.check, f.container, images.get((f.pod, f.container))) if exempter else None
        if match is None:
            findings.append(f)
        else:
            suppressed.append(Suppressed(f, match))
    if exempter is not None:
        findings += exempter.expired_findings(b)
    if ctx.ignore:
        findings = [f for f in findings if f.check not in ctx.ignore]
    details = _details(obj, views, b, object_line) if ctx.explain and sources else None
    return ObjectResult(
        ref,
        file,
        object_line,
        tuple(findings),
        tuple(verdicts),
        tuple(suppressed),
        tuple(policy_errors + unknown_ids),
        details,
        carries_pod=bool(sources),
    )


def object_findings(
    obj: Mapping[str, Any],
    ctx: Context,
    found: Sequence[tuple[Check, Path, str]],
    *,
    file: str | None,
    line_offset: int = 0,
    object_line: int | None = None,
    template: str | None = None,
) -> ObjectResult:
    """Findings ``(check, field path, message)`` about an object that is not a workload (a
    NetworkPolicy rule, a PodSecurityPolicy), located, with severities and exemptions as for pods."""
    ref = ObjectRef.of(obj)
    b = _Builder(obj, ref, ctx, file, line_offset, template or _origin(obj))
    findings = [b.finding(check, path, message, pod=None, container=None) for check, path, message in found]
    errors: list[InputError] = []
    exempter = _Exempter(exemption_candidates(obj, ctx, b, findings, errors), ctx.today)
    kept: list[Finding] = []
    suppressed: list[Suppressed] = []
    for f in findings:
        match = exempter.match(f.check, None, None)
        if match is None:
            kept.append(f)
        else:
            suppressed.append(Suppressed(f, match))
    kept += exempter.expired_findings(b)
    if ctx.ignore:
        kept = [f for f in kept if f.check not in ctx.ignore]
    return ObjectResult(
        ref, file, object_line, tuple(kept), (), tuple(suppressed), tuple(errors), carries_pod=False, counted=False
    )


def place(
    obj: Mapping[str, Any], ctx: Context, check: Check, path: Path, *, file: str | None, line_offset: int = 0
) -> Finding:
    """A finding of ``check`` at ``path`` in ``obj`` with no message yet: where a finding about the
    object (or its namespace) is reported."""
    return _Builder(obj, ObjectRef.of(obj), ctx, file, line_offset, _origin(obj)).finding(
        check, path, "", pod=None, container=None
    )


def exemption_candidates(
    obj: Mapping[str, Any],
    ctx: Context,
    b: _Builder | None = None,
    problems: list[Finding] | None = None,
    errors: list[InputError] | None = None,
) -> list[Exemption]:
    """The exemptions that may apply to ``obj``: the config's, and its own annotation (when honoured).
    An annotation that cannot be used is added to ``problems`` as a finding; one that names no
    known check, to ``errors``."""
    ref = ObjectRef.of(obj)
    candidates = list(exemptions.applicable(ctx.exemptions, ref))
    if ctx.annotation_exemptions:
        b = b or _Builder(obj, ref, ctx, None, 0)
        from_annotations, invalid, unknown_ids = _annotation_exemptions(obj, [], b)
        candidates += ctx.annotation_filter(from_annotations) if ctx.annotation_filter else from_annotations
        if problems is not None:
            problems += invalid
        if errors is not None:
            errors += unknown_ids
    return candidates


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
