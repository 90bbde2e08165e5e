"""ValidatingAdmissionPolicies and their bindings, read and compiled as the API server does.

A policy whose expressions the API server would refuse (a compile error, a wrong result
type, a function newer than the server's CEL) is an input error here: it could not be
created in a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podsec.vap import celenv

GROUP = "admissionregistration.k8s.io"
POLICY_KINDS = frozenset({"ValidatingAdmissionPolicy"})
BINDING_KINDS = frozenset({"ValidatingAdmissionPolicyBinding"})
API_VERSIONS = frozenset({f"{GROUP}/v1", f"{GROUP}/v1beta1", f"{GROUP}/v1alpha1"})


class PolicyError(Exception):
    """A policy or binding the API server would not accept."""


@dataclass(frozen=True, slots=True)
class Origin:
    file: str | None
    line: int | None


@dataclass(frozen=True, slots=True)
class Validation:
    program: celenv.Program
    message: str
    message_program: celenv.Program | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    origin: Origin
    failure_policy: str  # Fail | Ignore
    match: Mapping[str, Any]  # matchConstraints, defaulted
    param_kind: Mapping[str, Any] | None
    environment: celenv.Environment  # where its expressions were compiled (and are evaluated)
    authorizer: str | None  # the answer every authorizer check gets (vap test --authorizer), or None
    match_conditions: tuple[tuple[str, celenv.Program], ...]
    variables: tuple[tuple[str, celenv.Program], ...]
    validations: tuple[Validation, ...]
    audit_annotations: tuple[tuple[str, celenv.Program], ...]


@dataclass(frozen=True, slots=True)
class Binding:
    name: str
    origin: Origin
    policy_name: str
    actions: tuple[str, ...]
    match: Mapping[str, Any] | None
    param_ref: Mapping[str, Any] | None
    order: int = field(default=0, compare=False)


def _name(obj: Mapping[str, Any], what: str) -> str:
    meta = obj.get("metadata") or {}
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise PolicyError(f"{what} has no metadata.name")
    return name


def _dict(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{where} must be a list")
    return value


def default_match(match: Mapping[str, Any]) -> dict[str, Any]:
    """MatchResources with the API server's defaults: empty selectors, matchPolicy Equivalent."""
    out = dict(match)
    out["namespaceSelector"] = out.get("namespaceSelector") or {}
    out["objectSelector"] = out.get("objectSelector") or {}
    out["matchPolicy"] = out.get("matchPolicy") or "Equivalent"
    return out


def _compile(env: celenv.Environment, expression: Any, result: str, where: str) -> celenv.Program:
    if not isinstance(expression, str) or not expression.strip():
        raise PolicyError(f"{where}: expression is not specified")
    try:
        return env.compile_variable(expression) if result == "variable" else env.compile(expression, result)
    except celenv.CompileError as exc:
        raise PolicyError(f"{where}: {exc}") from None


def _failure_policy(spec: Mapping[str, Any]) -> str:
    failure = spec.get("failurePolicy") or "Fail"
    if failure not in ("Fail", "Ignore"):
        raise PolicyError(f'spec.failurePolicy: unsupported value "{failure}": supported values: "Fail", "Ignore"')
    return str(failure)


def _match_constraints(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    constraints = spec.get("matchConstraints")
    if not isinstance(constraints, dict) or not _list(constraints.get("resourceRules"), "resourceRules"):
        raise PolicyError("spec.matchConstraints.resourceRules: Required value")
    return constraints


NamedPrograms = list[tuple[str, celenv.Program]]
"""(name, compiled expression) in the order of the policy."""


def _variables(spec: Mapping[str, Any], environment: Callable[[NamedPrograms], celenv.Environment]) -> NamedPrograms:
    """spec.variables compiled in order, each seeing the ones before it."""
    variables: NamedPrograms = []
    for i, var in enumerate(_list(spec.get("variables"), "spec.variables")):
        var = _dict(var, f"spec.variables[{i}]")
        vname = var.get("name")
        if not isinstance(vname, str) or re.fullmatch(r"[_a-zA-Z][_a-zA-Z0-9]*", vname) is None:
            raise PolicyError(f"spec.variables[{i}].name: must be a valid CEL identifier")
        if any(vname == seen for seen, _ in variables):
            raise PolicyError(f'spec.variables[{i}].name: Duplicate value: "{vname}"')
        where = f"spec.variables[{i}].expression"
        variables.append((vname, _compile(environment(variables), var.get("expression"), "variable", where)))
    return variables


def _named_programs(
    spec: Mapping[str, Any], field_name: str, key: str, expression: str, env: celenv.Environment, result: str
) -> NamedPrograms:
    """(name, program) of each item of a list of named expressions (matchConditions, auditAnnotations)."""
    out = []
    for i, item in enumerate(_list(spec.get(field_name), f"spec.{field_name}")):
        item = _dict(item, f"spec.{field_name}[{i}]")
        where = f"spec.{field_name}[{i}].{expression}"
        out.append((str(item.get(key) or ""), _compile(env, item.get(expression), result, where)))
    return out


def _validation(
    val: Mapping[str, Any], where: str, env: celenv.Environment, messages: celenv.Environment
) -> Validation:
    """One of spec.validations (``where`` names it): its expression, message, messageExpression, reason."""
    program = _compile(env, val.get("expression"), "bool", f"{where}.expression")
    message_expression = val.get("messageExpression")
    message_program = None
    if isinstance(message_expression, str) and message_expression.strip():
        message_program = _compile(messages, message_expression, "string", f"{where}.messageExpression")
    raw_message = val.get("message")
    message = raw_message if isinstance(raw_message, str) else ""
    if "\n" in message.strip():
        raise PolicyError(f"{where}.message: must not contain line breaks")
    reason = val.get("reason") if isinstance(val.get("reason"), str) else None
    return Validation(program, message, message_program, reason)


def compile_policy(
    obj: Mapping[str, Any], origin: Origin, version: celenv.Version, authorizer: str | None = None
) -> Policy:
    """A policy object, validated and compiled for a server of ``version``; raises `PolicyError`.

    ``authorizer`` answers every authorizer check (allow or deny); without it a policy that asks
    the authorizer is refused, as podsec cannot ask a cluster."""
    name = _name(obj, "ValidatingAdmissionPolicy")
    spec = _dict(obj.get("spec"), "spec")
    failure = _failure_policy(spec)
    constraints = _match_constraints(spec)
    param_kind = spec.get("paramKind")
    has_params = isinstance(param_kind, dict)
    authz = "declared" if authorizer else "unanswered"

    def environment(variables: NamedPrograms) -> celenv.Environment:
        return celenv.Environment(version, params=has_params, variables=variables, authorizer=authz)

    variables = _variables(spec, environment)
    env = environment(variables)
    messages = celenv.Environment(version, params=has_params, variables=variables)  # no authorizer in messages
    conditions = _named_programs(spec, "matchConditions", "name", "expression", env, "bool")
    validations = [
        _validation(_dict(val, f"spec.validations[{i}]"), f"spec.validations[{i}]", env, messages)
        for i, val in enumerate(_list(spec.get("validations"), "spec.validations"))
    ]
    annotations = _named_programs(spec, "auditAnnotations", "key", "valueExpression", env, "annotation")
    if not validations and not annotations:
        raise PolicyError(
            "spec.validations: Required value: validations or auditAnnotations must contain at least one item"
        )
    return Policy(
        name=name,
        origin=origin,
        failure_policy=failure,
        match=default_match(constraints),
        param_kind=param_kind if has_params else None,
        environment=env,
        authorizer=authorizer,
        match_conditions=tuple(conditions),
        variables=tuple(variables),
        validations=tuple(validations),
        audit_annotations=tuple(annotations),
    )


def read_binding(obj: Mapping[str, Any], origin: Origin, order: int = 0) -> Binding:
    name = _name(obj, "ValidatingAdmissionPolicyBinding")
    spec = _dict(obj.get("spec"), "spec")
    policy_name = spec.get("policyName")
    if not isinstance(policy_name, str) or not policy_name:
        raise PolicyError("spec.policyName: Required value")
    actions = tuple(str(a) for a in _list(spec.get("validationActions"), "spec.validationActions"))
    if not actions:
        raise PolicyError("spec.validationActions: Required value")
    for action in actions:
        if action not in ("Deny", "Warn", "Audit"):
            raise PolicyError(f'spec.validationActions: unsupported value "{action}"')
    if "Deny" in actions and "Warn" in actions:
        raise PolicyError("spec.validationActions: Deny and Warn may not be used together")
    match = spec.get("matchResources")
    param_ref = spec.get("paramRef")
    return Binding(
        name=name,
        origin=origin,
        policy_name=policy_name,
        actions=actions,
        match=default_match(match) if isinstance(match, dict) else None,
        param_ref=param_ref if isinstance(param_ref, dict) else None,
        order=order,
    )
