"""Evaluate one parsed object: pods → checks → findings with locations → exemptions (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

from podsec import engine, exemptions
from podsec.checks import Rule, Severity, Violation
from podsec.exemptions import Exempter, Exemption
from podsec.findings import Finding, InputError, ObjectResult, Suppressed
from podsec.model import pod as podmodel
from podsec.model.objects import Located, ObjectRef
from podsec.model.paths import Path, PosDict, format_path, locate, parse_path
from podsec.model.schema import describe
from podsec.model.workloads import KindTable


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A finding of an object rule, before it is located: which rule, its message, and the
    field (an API path such as ``spec.containers[0].image``; None: the object) and container."""

    check: Rule
    message: str
    field: str | None = None
    container: str | None = None


class ObjectRules(Protocol):
    """A source of rules evaluated on whole objects (Rego policies): it plugs into evaluation
    like the built-in checks, which know nothing of how it works."""

    @property
    def every_object(self) -> bool:
        """Objects that carry no pod are evaluated too."""
        ...

    @property
    def uses_view(self) -> bool:
        """The rules read podsec's resolved view of the object (`Context.describe`)."""
        ...

    def evaluate(self, obj: Any, view: Mapping[str, Any] | None) -> tuple[Sequence[RuleHit], Sequence[str]]:
        """The hits of every rule on ``obj``, and what failed (one message each; the rest still ran)."""
        ...


Describe = Callable[[Located, Sequence[podmodel.PodView]], Mapping[str, Any]]
"""The resolved view of an object's pods (`podsec.explain.describe`), given by the edges that
need it: evaluation knows nothing of how it is built."""


@dataclass(frozen=True, slots=True)
class Context:
    """What every evaluation needs; built once per run."""

    policy: engine.Policy
    kinds: KindTable
    severity: Mapping[str, Severity] = field(default_factory=dict)  # per-check overrides
    exemptions: tuple[Exemption, ...] = ()  # from the config file
    annotation_exemptions: bool = True  # honour podsec.io/exempt annotations
    today: date | None = None  # for expiry; None: exemptions never expire
    rules: tuple[ObjectRules, ...] = ()  # rules on whole objects (Rego policies, --policy)
    explain: bool = False  # attach the effective security context to each result (for HTML reports)
    describe: Describe | None = None  # how that view is built (for ``explain`` and rules that read it)
    ignore: frozenset[str] = frozenset()  # check ids never reported (--ignore; governance findings too)
    aggregate: bool = False  # one finding per failing check (aggregate message), not one per violation
    # what annotation exemptions may do here (the webhook narrows them); None: as written
    annotation_filter: Callable[[list[Exemption]], list[Exemption]] | None = None
    debug: bool = False  # an internal error carries its traceback (shown by the CLI)
    known_checks: frozenset[str] | None = None  # check ids an annotation exemption may name (None: any)

    @property
    def every_object(self) -> bool:
        """Some rule wants objects that carry no pod too (sources then read every object)."""
        return any(r.every_object for r in self.rules)


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
            check=check,
            severity=severity,
            level=check.level,
            object=self.ref,
            pod=pod,
            container=None if container is None else str(container),  # a plain str (Unnamed too)
            field=path,
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
    obj: Mapping[str, Any], views: Sequence[podmodel.PodView], b: _Builder
) -> tuple[list[Exemption], list[Finding], list[InputError]]:
    """The exemptions the object's annotations (and its pods') grant, the unusable ones as
    governance findings, and check ids no check has as input errors."""
    places: dict[Path, Mapping[str, Any]] = {}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        places[("metadata", "annotations")] = meta["annotations"]
    for view in views:
        places.setdefault(view.annotations_path, view.annotations)
    read = exemptions.read_annotations(places, b.ctx.known_checks)
    problems = [b.finding(exemptions.INVALID, u.path, u.reason, pod=None, container=None) for u in read.unusable]
    errors = []
    for path, unknown in read.unknown:
        line, col, _ = _position(obj, path, b.line_offset)
        names = ", ".join(f'"{c}"' for c in unknown)
        message = f"{b.ref}: {format_path(path)}: no such check {names} (see `podsec checks`); the exemption is ignored"
        errors.append(InputError(b.file, line, message, col, b.ref))
    return list(read.found), problems, errors


def _expired_findings(exempter: Exempter, b: _Builder) -> list[Finding]:
    return [
        b.finding(exemptions.EXPIRED, e.path or ("metadata",), exemptions.expired_message(e), pod=None, container=None)
        for e in exempter.used_expired
    ]


Images = Mapping[tuple[str | None, str | None], str | None]


def _split(
    result: engine.CheckResult, label: str | None, images: Images, exempter: Exempter | None
) -> tuple[list[Violation], dict[Exemption, list[Violation]]]:
    """A failing check's violations: those kept, and those each exemption hides."""
    if not exempter:
        return list(result.violations), {}
    kept: list[Violation] = []
    hidden: dict[Exemption, list[Violation]] = {}
    check = result.check.id
    for v in result.violations:
        match = exempter.match(check, v.container, images.get((label, v.container)))
        if match is None:
            kept.append(v)
        else:
            hidden.setdefault(match, []).append(v)
    return kept, hidden


def _result_findings(
    result: engine.CheckResult,
    label: str | None,
    images: Images,
    exempter: Exempter | None,
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
    if exempter is None and b.ctx.aggregate:  # the webhook's usual case: one finding for the check
        findings += _aggregated(result, label, result.violations, b)
        return
    kept, hidden = _split(result, label, images, exempter)
    groups: list[tuple[Exemption | None, list[Violation]]] = [(None, kept)] if kept else []
    groups += hidden.items()
    make = _aggregated if b.ctx.aggregate else _per_violation
    for exemption, violations in groups:
        for f in make(result, label, violations, b):
            if exemption is None:
                findings.append(f)
            else:
                suppressed.append(Suppressed(f, exemption))


def _aggregated(
    result: engine.CheckResult, label: str | None, violations: Sequence[Violation], b: _Builder
) -> list[Finding]:
    whole = len(violations) == len(result.violations)
    msg = result.message() if whole else result.message(violations)
    containers = {v.container for v in violations}
    container = containers.pop() if len(containers) == 1 else None
    first = violations[0].path
    return [b.finding(result.check, first, msg, pod=label, container=container, also=result.also.get(first, ()))]


def _per_violation(
    result: engine.CheckResult, label: str | None, violations: list[Violation], b: _Builder
) -> list[Finding]:
    single = len(result.violations) == 1
    also = result.also
    return [
        b.finding(
            result.check,
            v.path,
            result.message() if single else result.message([v]),
            pod=label,
            container=v.container,
            also=also.get(v.path, ()),
        )
        for v in violations
    ]


@dataclass(slots=True, unsafe_hash=True, init=False)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class Prepared:
    """An object's pods, read once: evaluations of one object under several policies share them
    (the webhook evaluates a pod for enforce, audit and warn)."""

    views: tuple[podmodel.PodView, ...]
    images: Images

    def __init__(self, views: tuple[podmodel.PodView, ...], images: Images) -> None:
        self.views, self.images = views, images


def prepare(
    obj: Mapping[str, Any], kinds: KindTable, *, file: str | None = None, line_offset: int = 0
) -> Prepared | list[InputError]:
    """The pod views of ``obj`` (none when it carries no pod), or the input errors that keep them from being built."""
    return read_pods(Located(obj, file, None, line_offset), kinds)


def read_pods(item: Located, kinds: KindTable) -> Prepared | list[InputError]:
    """The pods of a located object, each read once (no views: it carries no pod), or the input
    errors that keep them from being read. What evaluation, explain and the webhook start from."""
    obj = item.obj
    extraction = kinds.extract(obj)
    if extraction.problem is not None:
        ref = ObjectRef.of(obj)
        path, value = extraction.problem
        line, col, _ = _position(obj, path, item.line_offset)
        message = f"{ref}: {format_path(path)}: expected a mapping, got {describe(value)}"
        return [InputError(item.file, line, message, col, ref)]
    errors: list[InputError] = []
    views: list[podmodel.PodView] = []
    images: dict[tuple[str | None, str | None], str | None] = {}
    for src in extraction.sources:
        view = podmodel.read_pod(obj, src)
        if isinstance(view, list):
            ref = ObjectRef.of(obj)
            for p in view:
                line, col, _ = _position(obj, p.path, item.line_offset)
                errors.append(InputError(item.file, line, f"{ref}: {format_path(p.path)}: {p.message}", col, ref))
            continue
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
) -> Outcome:
    """`evaluate` for an object given by its parts (callers that hold no `Located`)."""
    return evaluate(Located(obj, file, object_line, line_offset, template), ctx, prepared)


Outcome = ObjectResult | list[InputError] | None
"""What evaluating one object gives: its result; the input errors that keep it from being
evaluated; or None when it carries no pod (and no object rule wants it)."""


def evaluate(item: Located, ctx: Context, prepared: Prepared | list[InputError] | None = None) -> Outcome:
    """The one evaluation pipeline: a located object -> its pods -> checks and object rules ->
    findings with locations -> exemptions. ``prepared``: its pods, already read by `read_pods`."""
    pods = prepared if prepared is not None else read_pods(item, ctx.kinds)
    if isinstance(pods, list):
        return pods
    if not pods.views and not ctx.every_object:
        return None
    ref = ObjectRef.of(item.obj)
    b = _Builder(item.obj, ref, ctx, item.file, item.line_offset, item.template or _origin(item.obj))
    return _Evaluation(item, b, pods, bool(pods.views)).run()


@dataclass(slots=True, init=False)  # init=False: written below, native when compiled
class Failing:
    """What an aggregate evaluation (`Context.aggregate`, the webhook's) answers with when nothing
    can exempt or add findings: each failing check with its aggregate message, pod by pod in
    PSA's order, and PSA's denial text for the first pod that has one. Exactly what `evaluate` reports then (one
    finding per failing check, with this message), without making the findings."""

    checks: list[tuple[Rule, str]]
    verdict: str | None

    def __init__(self, checks: list[tuple[Rule, str]], verdict: str | None) -> None:
        self.checks, self.verdict = checks, verdict


def failing_checks(prepared: Prepared, ctx: Context) -> Failing | None:
    """`Failing` for an object's read pods, or None when `evaluate` is needed: when exemptions,
    object rules, ignored checks or per-violation findings are in play, or there is no pod."""
    if (
        not ctx.aggregate
        or ctx.exemptions
        or ctx.annotation_exemptions
        or ctx.rules
        or ctx.ignore
        or ctx.explain
        or not prepared.views
    ):
        return None
    policy = ctx.policy
    checks: list[tuple[Rule, str]] = []
    first: str | None = None
    for view in prepared.views:
        results = engine.evaluate(view, policy, lineage=False)  # severities are not reported here
        if first is None:
            first = engine.verdict(results, policy)
        checks += [(r.check, r.message()) for r in results]
    return Failing(checks, first)


def object_findings(
    obj: Mapping[str, Any],
    ctx: Context,
    found: Sequence[tuple[Rule, Path, str]],
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
    exempter = Exempter(exemption_candidates(obj, ctx, b, findings, errors), ctx.today)
    kept: list[Finding] = []
    suppressed: list[Suppressed] = []
    for f in findings:
        match = exempter.match(f.check.id, None, None)
        if match is None:
            kept.append(f)
        else:
            suppressed.append(Suppressed(f, match))
    kept += _expired_findings(exempter, b)
    if ctx.ignore:
        kept = [f for f in kept if f.check.id not in ctx.ignore]
    return ObjectResult(
        ref, file, object_line, tuple(kept), (), tuple(suppressed), tuple(errors), carries_pod=False, counted=False
    )


def place(
    obj: Mapping[str, Any], ctx: Context, check: Rule, path: Path, *, file: str | None, line_offset: int = 0
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


class _Evaluation:
    """The evaluation of one object whose pods are read: its checks, object rules and exemptions."""

    def __init__(self, item: Located, b: _Builder, pods: Prepared, carries_pod: bool) -> None:
        self.item, self.b, self.pods, self.carries_pod = item, b, pods, carries_pod
        self.findings: list[Finding] = []
        self.suppressed: list[Suppressed] = []
        self.errors: list[InputError] = []
        self._view: list[Mapping[str, Any] | None] = []  # the explain view, once computed

    def run(self) -> ObjectResult:
        ctx, b, obj, views = self.b.ctx, self.b, self.item.obj, self.pods.views
        candidates = list(exemptions.applicable(ctx.exemptions, b.ref))
        others: list[Finding] = []
        if ctx.annotation_exemptions:
            from_annotations, others, self.errors = _annotation_exemptions(obj, views, b)
            candidates += ctx.annotation_filter(from_annotations) if ctx.annotation_filter else from_annotations
        exempter = Exempter(candidates, ctx.today) if candidates else None
        verdicts = self._checks(exempter)
        policy_errors: list[InputError] = []
        if ctx.rules:
            rule_findings, policy_errors = self._object_rules()
            others = rule_findings + others
        self._exempt(others, exempter)
        if exempter is not None:
            self.findings += _expired_findings(exempter, b)
        findings = self.findings
        if ctx.ignore:
            findings = [f for f in findings if f.check.id not in ctx.ignore]
        details = self.view() if ctx.explain and self.carries_pod else None
        return ObjectResult(
            b.ref,
            b.file,
            self.item.line,
            tuple(findings),
            tuple(verdicts),
            tuple(self.suppressed),
            tuple(policy_errors + self.errors),
            details,
            carries_pod=self.carries_pod,
        )

    def _checks(self, exempter: Exempter | None) -> list[tuple[str | None, str]]:
        verdicts: list[tuple[str | None, str]] = []
        policy = self.b.ctx.policy
        for view in self.pods.views:
            results = engine.evaluate(view, policy)
            verdict = engine.verdict(results, policy)
            if verdict:
                verdicts.append((view.label, verdict))
            for result in results:
                _result_findings(result, view.label, self.pods.images, exempter, self.b, self.findings, self.suppressed)
        return verdicts

    def _exempt(self, findings: list[Finding], exempter: Exempter | None) -> None:
        images = self.pods.images
        for f in findings:
            match = exempter.match(f.check.id, f.container, images.get((f.pod, f.container))) if exempter else None
            if match is None:
                self.findings.append(f)
            else:
                self.suppressed.append(Suppressed(f, match))

    def view(self) -> Mapping[str, Any] | None:
        """The explain view of the pods just evaluated (computed once; None without ``ctx.describe``)."""
        if not self._view:
            describe_view = self.b.ctx.describe
            self._view.append(describe_view(self.item, self.pods.views) if describe_view is not None else None)
        return self._view[0]

    def _object_rules(self) -> tuple[list[Finding], list[InputError]]:
        b, line = self.b, self.item.line
        findings: list[Finding] = []
        errors: list[InputError] = []
        for rules in b.ctx.rules:
            hits, failures = rules.evaluate(self.item.obj, self.view() if rules.uses_view else None)
            for hit in hits:
                path = parse_path(hit.field) if hit.field else None
                if path:
                    findings.append(b.finding(hit.check, path, hit.message, pod=None, container=hit.container))
                else:  # no field given: the finding points at the object
                    f = b.finding(hit.check, (), hit.message, pod=None, container=hit.container)
                    findings.append(replace(f, line=line or f.line, column=None, location="parent"))
            errors += [InputError(b.file, line, f"{b.ref}: {failure}", None, b.ref) for failure in failures]
        return findings, errors


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
