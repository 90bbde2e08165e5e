"""Admission with ValidatingAdmissionPolicies, as the API server's validating policy plugin does it.

Follows k8s.io/apiserver/pkg/admission/plugin/policy/validating (dispatcher.go,
validator.go) and the matching it uses (policy/matching, webhook/predicates): policy
match constraints, then each binding's match resources, params (``paramRef`` by name or
selector, ``parameterNotFoundAction``), match conditions (a false one skips; errors
alone fall to the failure policy), variables, validations with ``messageExpression``
falling back to ``message``, audit annotations, and validation actions Deny, Warn and
Audit. The first denial decides the request's message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from podsec.vap import celenv, k8slib, served
from podsec.vap.policy import Binding, Policy

MAX_MESSAGE_BYTES = 5 * 1024  # celconfig.MaxEvaluatedMessageExpressionSizeBytes
MAX_ANNOTATION_BYTES = 10 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    """An admission request: what ``request`` holds, and the objects."""

    operation: str  # CREATE | UPDATE | DELETE | CONNECT
    group: str
    version: str
    kind: str
    resource: str
    sub_resource: str
    name: str
    namespace: str  # "" for cluster-scoped objects
    object: Mapping[str, Any] | None
    old_object: Mapping[str, Any] | None
    user_info: Mapping[str, Any] = field(default_factory=lambda: {"username": "podsec", "groups": ["system:masters"]})
    dry_run: bool = False
    options: Mapping[str, Any] | None = None
    requested: Request | None = None  # the request as made, when a policy matched it as an equivalent resource

    def as_cel(self) -> dict[str, Any]:
        asked = self.requested or self
        out: dict[str, Any] = {
            "kind": {"group": self.group, "version": self.version, "kind": self.kind},
            "resource": {"group": self.group, "version": self.version, "resource": self.resource},
            "requestKind": {"group": asked.group, "version": asked.version, "kind": asked.kind},
            "requestResource": {"group": asked.group, "version": asked.version, "resource": asked.resource},
            "name": self.name,
            "operation": self.operation,
            "userInfo": dict(self.user_info),
            "dryRun": self.dry_run,
        }
        if self.sub_resource:
            out["subResource"] = out["requestSubResource"] = self.sub_resource
        if self.namespace:
            out["namespace"] = self.namespace
        if self.options is not None:
            out["options"] = dict(self.options)
        return out


class Cluster:
    """What the API server would look up: namespaces and param objects."""

    def __init__(
        self,
        namespaces: Mapping[str, Mapping[str, Any]],
        objects: Sequence[Mapping[str, Any]],
        catalog: served.Catalog | None = None,
    ) -> None:
        self.namespaces = dict(namespaces)
        self.objects = list(objects)
        self.catalog = catalog or served.Catalog(celenv.NEWEST)

    def namespace(self, name: str) -> Mapping[str, Any]:
        """The namespace object (one with no labels but the automatic one when not given)."""
        given = self.namespaces.get(name)
        if given is not None:
            return given
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def params(self, kind: Mapping[str, Any], namespace: str | None) -> list[Mapping[str, Any]]:
        out = []
        for obj in self.objects:
            if obj.get("apiVersion") != kind.get("apiVersion") or obj.get("kind") != kind.get("kind"):
                continue
            ns = (obj.get("metadata") or {}).get("namespace") or ""
            if namespace is None or ns == namespace:
                out.append(obj)
        return out

    def param_scope_namespaced(self, kind: Mapping[str, Any]) -> bool:
        if kind.get("kind") == "ConfigMap" or kind.get("kind") == "Secret":
            return True
        return any((o.get("metadata") or {}).get("namespace") for o in self.params(kind, None))


# -- label selectors (metav1.LabelSelectorAsSelector) ---------------------------------------


class SelectorError(ValueError):
    pass


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            raise SelectorError(f'"{op}" is not a valid label selector operator')
        if not ok:
            return False
    return True


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    if not obj:
        return {}
    labels = (obj.get("metadata") or {}).get("labels")
    return labels if isinstance(labels, dict) else {}


# -- matching (policy/matching/matching.go, webhook/predicates/rules) ------------------------


GVR = tuple[str, str, str]


def _rule_matches(rule: Mapping[str, Any], req: Request, gvr: GVR) -> bool:
    """rules.Matcher: operation, scope, group, version and resource of ``gvr``, names."""
    group, version, resource = gvr
    scope = rule.get("scope") or "*"
    is_namespace = req.group == "" and req.resource == "namespaces"
    if scope == "Namespaced" and (is_namespace or not req.namespace):
        return False
    if scope == "Cluster" and not (is_namespace or not req.namespace):
        return False
    ops = rule.get("operations") or []
    if "*" not in ops and req.operation not in ops:
        return False
    groups, versions = rule.get("apiGroups") or [], rule.get("apiVersions") or []
    if "*" not in groups and group not in groups:
        return False
    if "*" not in versions and version not in versions:
        return False
    for res in rule.get("resources") or []:
        name, _, sub = str(res).partition("/")
        if (name == "*" or name == resource) and (sub == "*" or sub == req.sub_resource):
            names = rule.get("resourceNames") or []
            return not names or req.name in names
    return False


def _matching_rules(
    rules: Sequence[Mapping[str, Any]], policy: str, req: Request, catalog: served.Catalog
) -> GVR | None:
    """The resource a rule matches (matching.matchesResourceRules): the request's own, or with
    ``matchPolicy: Equivalent`` (the API server's default) an equivalent one it serves."""
    own = (req.group, req.version, req.resource)
    if any(_rule_matches(rule, req, own) for rule in rules):
        return own
    if policy == "Exact":
        return None
    equivalents = [(s.group, s.version, s.resource) for s in catalog.equivalents(*own)]
    for rule in rules:
        for gvr in equivalents:
            if _rule_matches(rule, req, gvr):
                return gvr
    return None


def resources_match(match: Mapping[str, Any], req: Request, cluster: Cluster) -> GVR | None:
    """MatchResources against a request (matching.Matcher.Matches): the resource matched, or None."""
    ns_selector = match.get("namespaceSelector") or {}
    if (req.namespace or req.resource == "namespaces") and (
        ns_selector.get("matchLabels") or ns_selector.get("matchExpressions")
    ):
        if req.resource == "namespaces" and req.group == "" and not req.sub_resource:
            ns_labels = _labels(req.object or req.old_object)
        else:
            ns_labels = _labels(cluster.namespace(req.namespace))
        if not selector_matches(ns_selector, ns_labels):
            return None
    obj_selector = match.get("objectSelector") or {}
    if (obj_selector.get("matchLabels") or obj_selector.get("matchExpressions")) and not any(
        obj is not None and selector_matches(obj_selector, _labels(obj)) for obj in (req.object, req.old_object)
    ):  # an absent object (no old object on CREATE) matches no selector, not even DoesNotExist
        return None
    policy = match.get("matchPolicy") or "Equivalent"
    if _matching_rules(match.get("excludeResourceRules") or [], policy, req, cluster.catalog) is not None:
        return None
    rules = match.get("resourceRules") or []
    return _matching_rules(rules, policy, req, cluster.catalog) if rules else (req.group, req.version, req.resource)


def as_matched(req: Request, gvr: GVR, catalog: served.Catalog) -> Request:
    """The request as a policy that matched it through ``gvr`` sees it (NewVersionedAttributes):
    kind and resource of ``gvr``, the objects converted to its version; `Unsupported` when
    podsec cannot convert them offline."""
    if gvr == (req.group, req.version, req.resource):
        return req
    source, target = catalog.served(req.group, req.version, req.resource), catalog.served(*gvr)
    if source is None or target is None or not (source.same_shape and target.same_shape):
        raise Unsupported(
            f"a policy matches this {req.kind} as {'/'.join(p for p in gvr[:2] if p)} {gvr[2]} (matchPolicy: "
            "Equivalent); podsec cannot convert it to that version offline (only CRD versions with "
            "conversion strategy None)"
        )

    def convert(obj: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        return None if obj is None else {**obj, "apiVersion": target.api_version}

    return replace(
        req,
        group=target.group,
        version=target.version,
        kind=target.kind,
        resource=target.resource,
        object=convert(req.object),
        old_object=convert(req.old_object),
        requested=req,
    )


Unsupported = celenv.Unsupported


# -- evaluation (validating/validator.go) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """One validation's (or configuration problem's) outcome for one binding."""

    policy: str
    binding: str | None
    action: str  # "Deny" (validation failed or errored under Fail) | "Admit"
    evaluation: str  # "admit" | "deny" | "error"
    message: str = ""
    reason: str = ""
    index: int = 0


@dataclass(slots=True)
class Outcome:
    """The API server's answer to one request."""

    denials: list[Decision] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)  # validation_failure entries
    annotations: dict[str, str] = field(default_factory=dict)
    reports: list[tuple[Decision, str]] = field(default_factory=list)  # (decision, action) per Deny/Warn/Audit
    unsupported: list[str] = field(default_factory=list)  # what podsec could not evaluate offline

    @property
    def allowed(self) -> bool:
        return not self.denials

    @property
    def message(self) -> str | None:
        """The API server's denial text, or None when the request is admitted."""
        if not self.denials:
            return None
        return denial_text(self.denials[0])


def denial_text(d: Decision) -> str:
    if d.binding is not None:
        return f"ValidatingAdmissionPolicy '{d.policy}' with binding '{d.binding}' denied request: {d.message}"
    return f"ValidatingAdmissionPolicy '{d.policy}' denied request: {d.message}"


def warning_text(d: Decision) -> str:
    return f"Validation failed for ValidatingAdmissionPolicy '{d.policy}' with binding '{d.binding}': {d.message}"


def _error(policy: Policy, binding: str | None, message: str) -> Decision | None:
    if policy.failure_policy == "Ignore":
        return None
    return Decision(policy.name, binding, "Deny", "error", message)


def _expression_error(program: celenv.Program, error: str) -> str:
    return f"expression '{program.expression}' resulted in error: {error}"


def _aggregate(errors: Sequence[str]) -> str:
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def validate(
    policy: Policy,
    binding: str,
    req: Request,
    params: Mapping[str, Any] | None,
    namespace: Mapping[str, Any] | None,
) -> tuple[list[Decision], list[tuple[str, str]], list[Decision]]:
    """One policy for one binding and one param: (decisions, audit annotations, annotation errors).

    As in validator.go, match conditions, validations, messages and audit annotations are
    each one evaluation (one `celenv.Scope`: its variables are computed at most once);
    match conditions see no ``namespaceObject``, audit annotations the whole namespace.
    """
    data: dict[str, Any] = {
        "object": req.object,
        "oldObject": req.old_object,
        "request": req.as_cel(),
        "namespaceObject": namespace_object(namespace) if namespace is not None else None,
    }
    if policy.param_kind is not None:
        data["params"] = params
    if policy.authorizer is not None:
        data |= k8slib.authorizer_values(policy.authorizer)
    env = policy.environment
    if policy.match_conditions:
        matching = celenv.Scope(env, {**data, "namespaceObject": None})
        errors = []
        for _, program in policy.match_conditions:
            try:
                value = celenv.run(program, matching)
            except celenv.EvalError as exc:
                errors.append(_expression_error(program, str(exc)))
                continue
            if value is False:
                return [], [], []
        if errors:
            d = _error(policy, binding, _aggregate(errors))
            return ([d] if d else []), [], []
    checking = celenv.Scope(env, data)
    messages = celenv.Scope(env, data)
    decisions = []
    for index, validation in enumerate(policy.validations):
        try:
            ok = celenv.run(validation.program, checking)
        except celenv.EvalError as exc:
            text = _expression_error(validation.program, str(exc))
            d = _error(policy, binding, text)  # None under failurePolicy Ignore: admitted, the error kept
            decisions.append(d or Decision(policy.name, binding, "Admit", "error", text, index=index))
            continue
        if ok is True:
            decisions.append(Decision(policy.name, binding, "Admit", "admit", index=index))
            continue
        message = _message(validation, messages)
        decisions.append(
            Decision(policy.name, binding, "Deny", "deny", message, validation.reason or "Invalid", index=index)
        )
    published: list[tuple[str, str]] = []
    annotation_errors: list[Decision] = []
    if policy.audit_annotations:
        annotating = celenv.Scope(env, {**data, "namespaceObject": namespace})
        for key, program in policy.audit_annotations:
            try:
                value = celenv.run(program, annotating)
            except celenv.EvalError as exc:
                d = _error(policy, binding, _expression_error(program, str(exc)))
                if d is not None:
                    annotation_errors.append(d)
                continue
            if isinstance(value, str) and value.strip():
                published.append((key, value.strip()[:MAX_ANNOTATION_BYTES]))
    return decisions, published, annotation_errors


def _message(validation: Any, scope: celenv.Scope) -> str:
    message = ""
    if validation.message_program is not None:
        try:
            value = celenv.run(validation.message_program, scope)
        except celenv.EvalError:
            value = None
        if isinstance(value, str):
            message = value.strip()
            if len(message.encode()) > MAX_MESSAGE_BYTES or "\n" in message:
                message = ""
    if not message and validation.message:
        message = validation.message.strip()
    if not message:
        message = f"failed expression: {validation.program.expression.strip()}"
    return message


def _collect_params(policy: Policy, binding: Binding, req: Request, cluster: Cluster) -> list[Any] | str:
    """The param objects for one binding (generic.CollectParams), or a configuration error."""
    kind, ref = policy.param_kind, binding.param_ref
    if kind is None or ref is None:
        return [None]
    namespaced = cluster.param_scope_namespaced(kind)
    namespace: str | None = None
    if namespaced:
        namespace = ref.get("namespace") or req.namespace
        if not namespace:
            return "cannot use namespaced paramRef in policy binding that matches cluster-scoped resources"
    elif ref.get("namespace"):
        return "paramRef.namespace must not be provided for a cluster-scoped `paramKind`"
    candidates = cluster.params(kind, namespace if namespaced else None)
    if ref.get("name"):
        if ref.get("selector") is not None:
            return "paramRef.name and paramRef.selector are mutually exclusive"
        found = [p for p in candidates if (p.get("metadata") or {}).get("name") == ref["name"]]
    elif ref.get("selector") is not None:
        try:
            found = [p for p in candidates if selector_matches(ref["selector"], _labels(p))]
        except SelectorError as exc:
            return str(exc)
    else:
        return "one of name or selector must be provided"
    if not found and ref.get("parameterNotFoundAction") == "Deny":
        return "no params found for policy binding with `Deny` parameterNotFoundAction"
    return found


def admit(req: Request, policies: Sequence[Policy], bindings: Sequence[Binding], cluster: Cluster) -> Outcome:
    """Run every policy and binding on one request (dispatcher.Dispatch)."""
    outcome = Outcome()
    asked = req
    for policy in policies:
        try:
            matched = resources_match(policy.match, asked, cluster)
            if matched is None:
                continue
            req = as_matched(asked, matched, cluster.catalog)
        except Unsupported as exc:
            outcome.unsupported.append(f"ValidatingAdmissionPolicy '{policy.name}': {exc}")
            continue
        except SelectorError as exc:
            d = _error(policy, None, f"failed to configure policy: {exc}")
            if d:
                outcome.denials.append(d)
            continue
        collected: dict[str, list[str]] = {}
        for binding in bindings:
            if binding.policy_name != policy.name:
                continue
            try:
                if binding.match is not None and resources_match(binding.match, asked, cluster) is None:
                    continue
            except SelectorError as exc:
                d = _error(policy, binding.name, f"failed to configure binding: {exc}")
                if d:
                    outcome.denials.append(d)
                continue
            params = _collect_params(policy, binding, req, cluster)
            if isinstance(params, str):
                d = _error(policy, binding.name, f"failed to configure binding: {params}")
                if d:
                    outcome.denials.append(d)
                continue
            namespace = None
            if req.namespace and not (req.kind == "Namespace" and req.group == "" and req.version == "v1"):
                namespace = cluster.namespace(req.namespace)
            for param in params:
                try:
                    decisions, published, annotation_errors = validate(policy, binding.name, req, param, namespace)
                except Unsupported as exc:
                    outcome.unsupported.append(f"ValidatingAdmissionPolicy '{policy.name}': {exc}")
                    continue
                _apply(outcome, policy, binding, decisions)
                outcome.denials.extend(annotation_errors)
                for key, value in published:
                    values = collected.setdefault(key, [])
                    if value not in values:
                        values.append(value)
        for key, values in collected.items():
            outcome.annotations[f"{policy.name}/{key}"] = ", ".join(values)
    if outcome.audit:
        outcome.annotations["validation.policy.admission.k8s.io/validation_failure"] = json.dumps(
            outcome.audit[:50], separators=(",", ":")
        )
    return outcome


def _apply(outcome: Outcome, policy: Policy, binding: Binding, decisions: Sequence[Decision]) -> None:
    for d in decisions:
        if d.action != "Deny":
            continue
        for action in binding.actions:
            outcome.reports.append((d, action))
            if action == "Deny":
                outcome.denials.append(d)
            elif action == "Warn":
                outcome.warnings.append(warning_text(d))
            elif action == "Audit":
                outcome.audit.append(
                    {
                        "message": d.message,
                        "policy": policy.name,
                        "binding": binding.name,
                        "expressionIndex": d.index,
                        "validationActions": list(binding.actions),
                    }
                )


def namespace_object(ns: Mapping[str, Any]) -> dict[str, Any]:
    """What ``namespaceObject`` holds (cel.CreateNamespaceObject): metadata subset, spec, status."""
    meta = ns.get("metadata") or {}
    keep = (
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "finalizers",
    )
    out: dict[str, Any] = {"metadata": {k: meta[k] for k in keep if meta.get(k) is not None}}
    for part in ("spec", "status"):
        if ns.get(part) is not None:
            out[part] = ns[part]
    return out
