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


def _exact_or_wildcard(items: Sequence[str], requested: str) -> bool:
    """rules.exactOrWildcard."""
    return "*" in items or requested in items


def _scope_matches(scope: str, req: Request) -> bool:
    """rules.Matcher.scope: a namespace object is cluster-scoped (its request names its namespace)."""
    cluster_scoped = (req.group == "" and req.resource == "namespaces") or not req.namespace
    if scope == "Namespaced":
        return not cluster_scoped
    if scope == "Cluster":
        return cluster_scoped
    return True  # "*" (AllScopes)


def _resource_matches(resources: Sequence[str], resource: str, sub_resource: str) -> bool:
    """rules.Matcher.resource, with splitResource's "resource/subresource"."""
    for res in resources:
        name, _, sub = str(res).partition("/")
        if name in ("*", resource) and sub in ("*", sub_resource):
            return True
    return False


def _rule_matches(rule: Mapping[str, Any], req: Request, gvr: GVR) -> bool:
    """rules.Matcher.Matches for ``gvr`` (scope, operation, group, version, resource), then
    matching.matchesResourceRules' resourceNames (an empty list matches every name)."""
    group, version, resource = gvr
    names = rule.get("resourceNames") or []
    return (
        _scope_matches(rule.get("scope") or "*", req)
        and _exact_or_wildcard(rule.get("operations") or [], req.operation)
        and _exact_or_wildcard(rule.get("apiGroups") or [], group)
        and _exact_or_wildcard(rule.get("apiVersions") or [], version)
        and _resource_matches(rule.get("resources") or [], resource, req.sub_resource)
        and (not names or req.name in names)
    )


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


def _selector_empty(selector: Mapping[str, Any]) -> bool:
    """labels.Selector.Empty: no requirements."""
    return not (selector.get("matchLabels") or selector.get("matchExpressions"))


def _namespace_labels(req: Request, cluster: Cluster) -> Mapping[str, str]:
    """namespace.Matcher.GetNamespaceLabels: a request for a namespace itself carries them."""
    if req.resource == "namespaces" and req.group == "" and not req.sub_resource:
        return _labels(req.object or req.old_object)
    return _labels(cluster.namespace(req.namespace))


def _match_namespace_selector(selector: Mapping[str, Any], req: Request, cluster: Cluster) -> bool:
    """namespace.Matcher.MatchNamespaceSelector: a cluster-scoped object (not a namespace) always matches."""
    if not req.namespace and req.resource != "namespaces":
        return True
    return _selector_empty(selector) or selector_matches(selector, _namespace_labels(req, cluster))


def _match_object_selector(selector: Mapping[str, Any], req: Request) -> bool:
    """object.Matcher.MatchObjectSelector: the object or the old object matches. An absent object
    (no old object on CREATE) matches no selector, not even DoesNotExist (matchObject)."""
    if _selector_empty(selector):
        return True
    return any(obj is not None and selector_matches(selector, _labels(obj)) for obj in (req.object, req.old_object))


def resources_match(match: Mapping[str, Any], req: Request, cluster: Cluster) -> GVR | None:
    """MatchResources against a request (matching.Matcher.Matches): the resource matched, or None."""
    if not _match_namespace_selector(match.get("namespaceSelector") or {}, req, cluster):
        return None
    if not _match_object_selector(match.get("objectSelector") or {}, req):
        return None
    policy = match.get("matchPolicy") or "Equivalent"
    if _matching_rules(match.get("excludeResourceRules") or [], policy, req, cluster.catalog) is not None:
        return None
    rules = match.get("resourceRules") or []
    if not rules:
        return (req.group, req.version, req.resource)
    return _matching_rules(rules, policy, req, cluster.catalog)


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


def _activation(
    policy: Policy, req: Request, params: Mapping[str, Any] | None, namespace: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The variables every expression of ``policy`` sees (validator.go's activation)."""
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
    return data


def _match_conditions(policy: Policy, data: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """matchconditions.Matcher.Match: (whether every condition holds, the errors). A false condition
    decides at once; errors count only when none is false."""
    matching = celenv.Scope(policy.environment, {**data, "namespaceObject": None})
    errors = []
    for _, program in policy.match_conditions:
        try:
            value = celenv.run(program, matching)
        except celenv.EvalError as exc:
            errors.append(_expression_error(program, str(exc)))
            continue
        if value is False:
            return False, []
    return not errors, errors


def _validations(policy: Policy, binding: str, data: Mapping[str, Any]) -> list[Decision]:
    """One decision per validation (validator.go's loop over the validation results)."""
    checking = celenv.Scope(policy.environment, data)
    messages = celenv.Scope(policy.environment, data)
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
    return decisions


def _audit_annotations(
    policy: Policy, binding: str, data: Mapping[str, Any], namespace: Mapping[str, Any] | None
) -> tuple[list[tuple[str, str]], list[Decision]]:
    """(published audit annotations, their errors); they see the whole namespace object."""
    published: list[tuple[str, str]] = []
    annotation_errors: list[Decision] = []
    if not policy.audit_annotations:
        return published, annotation_errors
    annotating = celenv.Scope(policy.environment, {**data, "namespaceObject": namespace})
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
    return published, annotation_errors


def validate(
    policy: Policy,
    binding: str,
    req: Request,
    params: Mapping[str, Any] | None,
    namespace: Mapping[str, Any] | None,
) -> tuple[list[Decision], list[tuple[str, str]], list[Decision]]:
    """One policy for one binding and one param (validator.Validate): (decisions, audit annotations,
    annotation errors).

    As in validator.go, match conditions, validations, messages and audit annotations are
    each one evaluation (one `celenv.Scope`: its variables are computed at most once);
    match conditions see no ``namespaceObject``, audit annotations the whole namespace.
    """
    data = _activation(policy, req, params, namespace)
    if policy.match_conditions:
        matches, errors = _match_conditions(policy, data)
        if errors:
            d = _error(policy, binding, _aggregate(errors))
            return ([d] if d else []), [], []
        if not matches:
            return [], [], []
    decisions = _validations(policy, binding, data)
    published, annotation_errors = _audit_annotations(policy, binding, data, namespace)
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


class ParamError(ValueError):
    """A binding's paramRef that finds no usable params (CollectParams' errors)."""


def _params_namespace(namespaced: bool, ref: Mapping[str, Any], req: Request) -> str | None:
    """The namespace CollectParams looks in (None: cluster-scoped params)."""
    if not namespaced:
        if ref.get("namespace"):
            raise ParamError("paramRef.namespace must not be provided for a cluster-scoped `paramKind`")
        return None
    namespace: str | None = ref.get("namespace") or req.namespace
    if not namespace:
        # you must supply a namespace if your matcher can possibly match a cluster-scoped resource
        raise ParamError("cannot use namespaced paramRef in policy binding that matches cluster-scoped resources")
    return namespace


def _find_params(ref: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The params ``ref`` names, by name or by selector (CollectParams)."""
    if ref.get("name"):
        if ref.get("selector") is not None:
            raise ParamError("paramRef.name and paramRef.selector are mutually exclusive")
        return [p for p in candidates if (p.get("metadata") or {}).get("name") == ref["name"]]
    if ref.get("selector") is None:
        raise ParamError("one of name or selector must be provided")
    try:
        return [p for p in candidates if selector_matches(ref["selector"], _labels(p))]
    except SelectorError as exc:
        raise ParamError(str(exc)) from None


def _collect_params(policy: Policy, binding: Binding, req: Request, cluster: Cluster) -> list[Any] | str:
    """The param objects for one binding (generic.CollectParams), or a configuration error."""
    kind, ref = policy.param_kind, binding.param_ref
    if kind is None or ref is None:
        return [None]
    try:
        namespace = _params_namespace(cluster.param_scope_namespaced(kind), ref, req)
        found = _find_params(ref, cluster.params(kind, namespace))
    except ParamError as exc:
        return str(exc)
    if not found and ref.get("parameterNotFoundAction") == "Deny":
        return "no params found for policy binding with `Deny` parameterNotFoundAction"
    return found


def _deny_configuration(outcome: Outcome, policy: Policy, binding: str | None, message: str) -> None:
    """A policy or binding that cannot be configured: an error under the policy's failurePolicy."""
    d = _error(policy, binding, message)
    if d:
        outcome.denials.append(d)


def _namespace_of(req: Request, cluster: Cluster) -> Mapping[str, Any] | None:
    """The namespace object a request's expressions see (none for cluster-scoped objects and namespaces)."""
    if not req.namespace or (req.kind == "Namespace" and req.group == "" and req.version == "v1"):
        return None
    return cluster.namespace(req.namespace)


def admit(req: Request, policies: Sequence[Policy], bindings: Sequence[Binding], cluster: Cluster) -> Outcome:
    """Run every policy and binding on one request (dispatcher.Dispatch)."""
    outcome = Outcome()
    for policy in policies:
        _dispatch_policy(outcome, policy, req, bindings, cluster)
    if outcome.audit:
        outcome.annotations["validation.policy.admission.k8s.io/validation_failure"] = json.dumps(
            outcome.audit[:50], separators=(",", ":")
        )
    return outcome


def _dispatch_policy(
    outcome: Outcome, policy: Policy, asked: Request, bindings: Sequence[Binding], cluster: Cluster
) -> None:
    """One policy on the request as asked: its match constraints (DefinitionMatches), then each binding."""
    try:
        matched = resources_match(policy.match, asked, cluster)
        if matched is None:
            return
        req = as_matched(asked, matched, cluster.catalog)
    except Unsupported as exc:
        outcome.unsupported.append(f"ValidatingAdmissionPolicy '{policy.name}': {exc}")
        return
    except SelectorError as exc:
        _deny_configuration(outcome, policy, None, f"failed to configure policy: {exc}")
        return
    collected: dict[str, list[str]] = {}
    for binding in bindings:
        if binding.policy_name == policy.name:
            _dispatch_binding(outcome, policy, binding, asked, req, cluster, collected)
    for key, values in collected.items():
        outcome.annotations[f"{policy.name}/{key}"] = ", ".join(values)


def _dispatch_binding(
    outcome: Outcome,
    policy: Policy,
    binding: Binding,
    asked: Request,
    req: Request,
    cluster: Cluster,
    collected: dict[str, list[str]],
) -> None:
    """One binding of a matching policy: its match resources (BindingMatches), its params, and
    a validation per param; audit annotations gathered in ``collected`` (distinct values by key)."""
    try:
        if binding.match is not None and resources_match(binding.match, asked, cluster) is None:
            return
    except SelectorError as exc:
        _deny_configuration(outcome, policy, binding.name, f"failed to configure binding: {exc}")
        return
    params = _collect_params(policy, binding, req, cluster)
    if isinstance(params, str):
        _deny_configuration(outcome, policy, binding.name, f"failed to configure binding: {params}")
        return
    namespace = _namespace_of(req, cluster)
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
