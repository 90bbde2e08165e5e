"""The analyses beyond the pod, wired into a scan: network isolation and legacy PodSecurityPolicies.

The semantics live in `podsec.analysis` (pure functions over objects); this module only feeds
them what a scan reads and turns their answers into findings:

- per object, as each file is read: rules that allow every source or destination
  (``allowAllIngress``, ``allowAllEgress``) on NetworkPolicy and Cilium policy objects, and the
  Pod Security Standards equivalent of each PodSecurityPolicy (``podSecurityPolicy``);
- per namespace, once every file is read (`complete`): namespaces without a default-deny policy
  (``defaultDenyIngress``, ``defaultDenyEgress``). A namespace is one the input names: a
  Namespace object, or the ``metadata.namespace`` of any object (objects that name none are
  not attributed to one: their namespace is chosen when they are applied). Its findings are
  about the Namespace (``object`` is the Namespace, whichever object shows them, so that their
  identity does not depend on the order of files), shown on its Namespace object
  (``metadata.name``) when the input has one, else on the first object seen in it (its
  ``metadata.namespace``).

Each file's `Facts` (namespaces seen, policies' denials, where to report) travel with its
`FileResult`, across worker processes; memory grows with the namespaces and policies of the
input, not with its objects. The cluster audit can feed `podsec.analysis.netpol` the same way
from objects it lists.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from podsec import evaluate
from podsec.analysis import netpol, psp
from podsec.analysis.rules import BeyondRule, legacy, network
from podsec.analysis.selectors import Problem
from podsec.evaluate import Context
from podsec.exemptions import Exemption
from podsec.findings import FileResult, Finding, InputError, ObjectResult, Suppressed
from podsec.model import schema
from podsec.model.objects import ObjectRef
from podsec.model.paths import Path, format_path, locate

KINDS = netpol.KINDS | {"Namespace", "PodSecurityPolicy"}
"""Kinds a scan must read in full when these checks run (the others are only peeked at)."""

CLUSTER_SCOPED = frozenset(
    {
        "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
        "StorageClass", "PriorityClass", "PodSecurityPolicy", "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "APIService", "CSIDriver", "CSINode",
        "VolumeAttachment", "RuntimeClass", "IngressClass", "CertificateSigningRequest", "FlowSchema",
        "PriorityLevelConfiguration", "ClusterIssuer", "CiliumClusterwideNetworkPolicy", "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy", "ClusterWorkflowTemplate", "ClusterPolicy", "ClusterPolicyReport",
        "ClusterTrustBundle", "IPAddress", "ServiceCIDR", "DeviceClass", "ResourceSlice", "VolumeAttributesClass",
        "ComponentStatus", "GatewayClass", "ClusterServiceVersion", "CiliumNode", "CiliumIdentity",
        "ConstraintTemplate", "SecurityContextConstraints",
    }
)  # fmt: skip
"""Kinds whose objects belong to no namespace (a ``metadata.namespace`` on them is ignored)."""

NAMESPACE_CHECKS = (network.DEFAULT_DENY_INGRESS, network.DEFAULT_DENY_EGRESS)
_OPEN = {"ingress": network.ALLOW_ALL_INGRESS, "egress": network.ALLOW_ALL_EGRESS}


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where a namespace's findings go: a finding with its location (check and message filled in
    later), and the exemptions of the object it is on."""

    finding: Finding
    exemptions: tuple[Exemption, ...] = ()


@dataclass(slots=True)
class NamespaceFacts:
    labels: dict[str, str] | None = None  # from its Namespace object
    own: Anchor | None = None  # its Namespace object
    first: Anchor | None = None  # the first object seen in it


@dataclass(slots=True)
class Facts:
    """What one file (or, merged, the whole input) tells about namespaces and network policies."""

    namespaces: dict[str, NamespaceFacts] = field(default_factory=dict)
    policies: list[netpol.PolicyFacts] = field(default_factory=list)

    def _namespace(self, name: str) -> NamespaceFacts:
        found = self.namespaces.get(name)
        if found is None:
            found = self.namespaces[name] = NamespaceFacts()
        return found

    def add_member(self, member: Any, file: str, ctx: Context) -> None:
        """A document a scan only peeked at (`podsec.sources.files.Member`)."""
        ns = _membership(member.kind, member.namespace)
        if ns is None:
            return
        facts = self._namespace(ns)
        if facts.first is None:
            ref = ObjectRef(member.api_version, member.kind, member.namespace, member.name)
            check = network.DEFAULT_DENY_INGRESS
            finding = Finding(
                check, check.severity, check.level, ref, None, None, ("metadata", "namespace"), file,
                member.line, member.column, "field", "",
            )  # fmt: skip
            exempt = tuple(e for e in ctx.exemptions if e.covers_object(ref))
            facts.first = Anchor(finding, exempt)

    def merge(self, other: Facts) -> None:
        for name, theirs in other.namespaces.items():
            mine = self._namespace(name)
            if mine.own is None and theirs.own is not None:
                mine.own, mine.labels = theirs.own, theirs.labels
            if mine.first is None:
                mine.first = theirs.first
        self.policies.extend(other.policies)


def _membership(kind: str, namespace: object) -> str | None:
    """The namespace an object names, unless its kind has none (its namespace field is then ignored)."""
    if kind in CLUSTER_SCOPED or kind.endswith("List") or not isinstance(namespace, str) or not namespace:
        return None
    return namespace


def _active(ctx: Context) -> frozenset[str]:
    return frozenset(c.id for c in ctx.policy.beyond)


def problem_errors(
    obj: Mapping[str, Any], problems: Iterable[Problem], file: str | None, line: int | None, line_offset: int = 0
) -> list[InputError]:
    """Input errors, with file and line, for what the API server would refuse in an object."""
    ref = ObjectRef.of(obj)
    out = []
    for p in problems:
        pos = locate(obj, p.path)
        at = pos.line + line_offset if pos else line
        where = f"{format_path(p.path)}: " if p.path else ""
        message = f"{ref}: {where}{p.message} (the API server refuses this object)"
        out.append(InputError(file, at, message, pos.column if pos else None, ref))
    return out


def record(
    item: Any, file: str, ctx: Context, facts: Facts, outcome: ObjectResult | list[InputError] | None, relocate: Any
) -> ObjectResult | list[InputError] | None:
    """Take what a scan needs from one parsed object (`podsec.sources.files.Located`): its namespace,
    its network policy facts, and its own findings, merged into ``outcome`` (its pod findings)."""
    obj: Mapping[str, Any] = item.obj
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return outcome
    earlier = outcome if isinstance(outcome, list) else []  # the object's input errors so far
    refused = _metadata_errors(item, file) if kind in KINDS else []
    if refused:
        return refused + earlier
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    if kind == "Namespace" and obj.get("apiVersion") == "v1":
        _record_namespace(item, meta, file, ctx, facts, relocate)
        return outcome
    ns = _membership(kind, meta.get("namespace"))
    if ns is not None and facts._namespace(ns).first is None:
        facts._namespace(ns).first = _anchor(item, file, ctx, ("metadata", "namespace"), relocate)
    found, errors = _own_findings(item, file, ctx, facts)
    if errors:
        return errors + earlier
    if not found:
        return outcome
    mine = evaluate.object_findings(
        obj, ctx, found, file=file, line_offset=item.line_offset, object_line=item.line, template=item.template
    )
    return _with_own_findings(outcome, mine)


def _with_own_findings(
    outcome: ObjectResult | list[InputError] | None, mine: ObjectResult
) -> ObjectResult | list[InputError]:
    """An object's own findings added to its pod findings; its input errors, if it had any, instead."""
    if isinstance(outcome, ObjectResult):  # the object was also evaluated (Rego policies on every object)
        return replace(
            outcome, findings=outcome.findings + mine.findings, suppressed=outcome.suppressed + mine.suppressed
        )
    return mine if not isinstance(outcome, list) else outcome


def _metadata_errors(item: Any, file: str) -> list[InputError]:
    """A name or namespace that is not a string: the API server refuses the object."""
    wrong: list[schema.TypeProblem] = []
    schema.validate(item.obj.get("metadata"), schema.METADATA, ("metadata",), wrong)
    problems = [Problem(p.path, p.message) for p in wrong]
    return problem_errors(item.obj, problems, file, item.line, item.line_offset)


def _record_namespace(item: Any, meta: Mapping[str, Any], file: str, ctx: Context, facts: Facts, relocate: Any) -> None:
    """A Namespace object: its labels, and where its namespace's findings go (the first one seen)."""
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return
    ns_facts = facts._namespace(name)
    if ns_facts.own is None:
        labels = meta.get("labels")
        ns_facts.labels = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
        ns_facts.own = _anchor(item, file, ctx, ("metadata", "name"), relocate)


def _own_findings(
    item: Any, file: str, ctx: Context, facts: Facts
) -> tuple[list[tuple[BeyondRule, Path, str]], list[InputError]]:
    """An object's own findings (network policy rules that open everything, a PodSecurityPolicy's
    equivalent level) and its input errors; a network policy's facts go to ``facts``."""
    obj: Mapping[str, Any] = item.obj
    active = _active(ctx)
    policy = netpol.read_policy(obj)
    if policy is not None:
        facts.policies.append(replace(policy, open_rules=()))
        errors = problem_errors(obj, policy.problems, file, item.line, item.line_offset)
        return _open_rule_findings(policy.open_rules, active), errors
    if psp.is_psp(obj) and legacy.POD_SECURITY_POLICY.id in active:
        assessment = psp.assess(obj)
        errors = problem_errors(obj, assessment.problems, file, item.line, item.line_offset)
        return [(legacy.POD_SECURITY_POLICY, ("metadata", "name"), psp_message(assessment))], errors
    return [], []


def _open_rule_findings(rules: Iterable[netpol.OpenRule], active: frozenset[str]) -> list[tuple[BeyondRule, Path, str]]:
    found = []
    for rule in rules:
        check = _OPEN[rule.direction]
        if check.id in active:
            found.append((check, rule.path, f"{check.reason} ({rule.detail})"))
    return found


def _anchor(item: Any, file: str, ctx: Context, path: Path, relocate: Any) -> Anchor:
    check = network.DEFAULT_DENY_INGRESS
    finding = evaluate.place(item.obj, ctx, check, path, file=file, line_offset=item.line_offset)
    if relocate is not None:
        moved = relocate(item.obj, ObjectResult(finding.object, file, item.line, (finding,), ()))
        finding = moved.findings[0] if moved.findings else finding
    return Anchor(finding, tuple(evaluate.exemption_candidates(item.obj, ctx)))


def psp_message(a: psp.Assessment) -> str:
    """``PodSecurityPolicy (detail)`` for a finding: the level, what keeps it from the next, mutation, labels."""
    parts = [f"equivalent to {a.level.value}"]
    blockers = a.blocking()
    if blockers and a.next_level is not None:
        kept = "; ".join(f"{b.field} is {b.value} ({a.next_level.value} needs {b.needs})" for b in blockers)
        parts.append(f"kept from {a.next_level.value} by {kept}")
    if a.mutates:
        parts.append("it mutates pods, which Pod Security Admission never does: " + "; ".join(
            f"{m.field} {m.effect}" for m in a.mutations
        ))  # fmt: skip
    label = ", ".join(f"{k}: {v}" for k, v in a.labels.items())
    parts.append(f"instead, label the namespaces that use it {label}")
    return f"PodSecurityPolicy ({'; '.join(parts)})"


# --- after every file: namespaces -----------------------------------------------------------------


class WithFacts(Protocol):
    """A file's result that carries its `Facts` (a `FileResult`, or `podsec fix`'s file fix)."""

    facts: object | None


R = TypeVar("R", bound=WithFacts)


def complete(results: Iterable[R], ctx: Context) -> Iterator[R | FileResult]:
    """``results`` as they come, then the findings about namespaces, once every file is read."""
    active = _active(ctx)
    merged = Facts()
    for result in results:
        if isinstance(result.facts, Facts):
            merged.merge(result.facts)
            result.facts = None
        yield result
    if not any(c.id in active for c in NAMESPACE_CHECKS):
        return
    yield from namespace_results(merged, ctx)


def namespace_results(facts: Facts, ctx: Context) -> Iterator[FileResult]:
    """The default-deny findings of every namespace, grouped by the file they are reported in."""
    infos = [netpol.NamespaceInfo(name, f.labels) for name, f in facts.namespaces.items()]
    by_file: dict[str | None, list[ObjectResult]] = {}
    for iso in netpol.isolation(infos, facts.policies):
        result = _namespace_result(iso, facts, ctx)
        if result is not None:
            by_file.setdefault(result.file, []).append(result)
    for file, objects in by_file.items():
        yield FileResult(file, objects=objects, read=False)


def _namespace_result(iso: netpol.Isolation, facts: Facts, ctx: Context) -> ObjectResult | None:
    """A namespace's default-deny findings, on its anchor; None when it has none."""
    assert iso.namespace.name is not None
    ns = facts.namespaces[iso.namespace.name]
    anchor = ns.own or ns.first
    if anchor is None:
        return None
    active = _active(ctx)
    findings: list[Finding] = []
    suppressed: list[Suppressed] = []
    ref = ObjectRef("v1", "Namespace", None, iso.namespace.name)  # the same whichever object it is shown on
    exempting = _namespace_exemptions(ref, ns, ctx)
    for check, direction in zip(NAMESPACE_CHECKS, netpol.DIRECTIONS, strict=True):
        if check.id not in active or check.id in ctx.ignore or iso.denials(direction):
            continue
        f = replace(
            anchor.finding,
            object=ref,
            field=(),
            location="parent",
            missing=None,
            check=check,
            severity=ctx.severity.get(check.id, check.severity),
            level=check.level,
            message=_deny_message(iso, direction, check),
        )
        exemption = next((e for e in exempting if e.covers(check.id, None, None) and not _expired(e, ctx)), None)
        if exemption is not None:
            suppressed.append(Suppressed(f, exemption))
        else:
            findings.append(f)
    if not findings and not suppressed:
        return None
    return ObjectResult(ref, anchor.finding.file, anchor.finding.line, tuple(findings), (),
                        tuple(suppressed), carries_pod=False, counted=False)  # fmt: skip


def _namespace_exemptions(ref: ObjectRef, ns: NamespaceFacts, ctx: Context) -> list[Exemption]:
    """What may exempt a namespace's findings, whichever object shows them: the configuration's
    exemptions for its Namespace object (``kind: Namespace, name: N``) or for everything in it
    (``namespace: N`` alone), and the annotations of its Namespace object — never those of the
    object that happens to be seen first in it."""
    name = ref.name or ""
    found = [
        e
        for e in ctx.exemptions
        if e.covers_object(ref)
        or (e.kind is None and e.name is None and e.namespace is not None and fnmatch.fnmatchcase(name, e.namespace))
    ]
    return found + (list(ns.own.exemptions) if ns.own is not None else [])


def _expired(e: Exemption, ctx: Context) -> bool:
    return ctx.today is not None and e.expired(ctx.today)


def _deny_message(iso: netpol.Isolation, direction: netpol.Direction, check: BeyondRule) -> str:
    kind = direction.capitalize()
    detail = (
        f'namespace "{iso.namespace.name}": no policy selects every pod in it for {kind} and allows nothing '
        f"(a NetworkPolicy with podSelector: {{}}, {kind} among its policyTypes and no {direction} rules)"
    )
    near = iso.near_misses.get(direction, ())
    if near:
        near = tuple(sorted(near))
        detail += "; " + "; ".join(near[:3]) + ("; …" if len(near) > 3 else "")
    return f"{check.reason} ({detail})"
