"""Read policy files and resource files into policies, bindings, the cluster and requests.

Every object of a resource file is a CREATE request; an ``admission.k8s.io/v1``
``AdmissionReview`` document is its ``request`` exactly (UPDATE with ``oldObject``,
DELETE, a subresource, another user). Namespace objects give ``namespaceObject`` and
namespace labels; objects of a policy's ``paramKind`` are its params. A namespace that
is not given exists with no labels but ``kubernetes.io/metadata.name``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podsec.findings import InputError
from podsec.model.prepare import prepare_pod
from podsec.model.workloads import KindTable
from podsec.sources.files import Located, discover, missing, read_objects, read_target
from podsec.vap import celenv, served
from podsec.vap.admission import Request
from podsec.vap.policy import (
    API_VERSIONS,
    BINDING_KINDS,
    POLICY_KINDS,
    Binding,
    Origin,
    Policy,
    PolicyError,
    compile_policy,
    read_binding,
)


def _plain(value: Any) -> Any:
    """A decoded object as the API server holds it: JSON types only, explicit nulls dropped."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class Resource:
    """A request to admit, with where it came from."""

    request: Request
    file: str | None
    line: int | None
    object: Mapping[str, Any]  # what the finding names (the object, or the old object of a DELETE)


@dataclass(slots=True)
class Inputs:
    policies: list[Policy] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    namespaces: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    objects: list[Mapping[str, Any]] = field(default_factory=list)  # every object (params are found here)
    resources: list[Resource] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    catalog: served.Catalog = field(default_factory=lambda: served.Catalog(celenv.NEWEST))


def _read(paths: Sequence[str], inputs: Inputs) -> Iterable[tuple[Mapping[str, Any], str, int | None]]:
    inputs.errors.extend(missing(paths))
    for target in discover(paths):
        inputs.files.append(target.name)
        data = read_target(target)
        if isinstance(data, InputError):
            inputs.errors.append(data)
            continue
        for item in read_objects(data, target.name, KindTable(), every=True):
            if isinstance(item, InputError):
                inputs.errors.append(item)
            elif isinstance(item, Located):  # every=True: never a peeked Member
                yield _plain(item.obj), target.name, item.line


def _is(obj: Mapping[str, Any], kinds: frozenset[str]) -> bool:
    return obj.get("kind") in kinds and obj.get("apiVersion") in API_VERSIONS


def load(
    policy_paths: Sequence[str],
    resource_paths: Sequence[str],
    version: celenv.Version,
    authorizer: str | None = None,
) -> Inputs:
    inputs = Inputs()
    crds: list[Mapping[str, Any]] = []
    resource_docs: list[tuple[Mapping[str, Any], str, int | None]] = []
    for paths, is_resource in ((policy_paths, False), (resource_paths, True)):
        for obj, file, line in _read(paths, inputs):
            if _add_policy_object(obj, Origin(file, line), inputs, version, authorizer):
                continue
            _note(obj, inputs, crds)
            if is_resource:
                resource_docs.append((obj, file, line))
    inputs.errors += _unbound(inputs.policies, inputs.bindings)
    inputs.catalog = served.Catalog(version, crds)
    for obj, file, line in resource_docs:
        try:
            inputs.resources.append(_resource(obj, file, line, inputs.catalog))
        except ValueError as exc:
            inputs.errors.append(InputError(file, line, str(exc)))
    return inputs


def _add_policy_object(
    obj: Mapping[str, Any], origin: Origin, inputs: Inputs, version: celenv.Version, authorizer: str | None
) -> bool:
    """Read ``obj`` into ``inputs`` if it is a policy or a binding (its problems as input errors)."""
    if _is(obj, POLICY_KINDS):
        what = "ValidatingAdmissionPolicy"
        try:
            inputs.policies.append(compile_policy(obj, origin, version, authorizer))
        except PolicyError as exc:
            inputs.errors.append(_policy_error(obj, origin, what, exc))
        return True
    if _is(obj, BINDING_KINDS):
        what = "ValidatingAdmissionPolicyBinding"
        try:
            inputs.bindings.append(read_binding(obj, origin, len(inputs.bindings)))
        except PolicyError as exc:
            inputs.errors.append(_policy_error(obj, origin, what, exc))
        return True
    return False


def _policy_error(obj: Mapping[str, Any], origin: Origin, what: str, exc: PolicyError) -> InputError:
    name = (obj.get("metadata") or {}).get("name")
    return InputError(origin.file, origin.line, f"{what} {name}: {exc}")


def _unbound(policies: Sequence[Policy], bindings: Sequence[Binding]) -> list[InputError]:
    """Bindings of a policy not given, and policies without a binding (which enforce nothing)."""
    names = {p.name for p in policies}
    errors = [
        InputError(
            b.origin.file,
            b.origin.line,
            f'binding "{b.name}" refers to policy "{b.policy_name}", which is not among the policies given',
        )
        for b in bindings
        if b.policy_name not in names
    ]
    bound = {b.policy_name for b in bindings}
    errors += [
        InputError(
            p.origin.file,
            p.origin.line,
            f'policy "{p.name}" has no binding among the files given, '
            "so it enforces nothing; add a ValidatingAdmissionPolicyBinding",
        )
        for p in policies
        if p.name not in bound
    ]
    return errors


def _note(obj: Mapping[str, Any], inputs: Inputs, crds: list[Mapping[str, Any]]) -> None:
    inputs.objects.append(obj)
    meta = obj.get("metadata") or {}
    if obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1" and meta.get("name"):
        ns = copy.deepcopy(dict(obj))
        labels = dict(ns.setdefault("metadata", {}).get("labels") or {})
        labels["kubernetes.io/metadata.name"] = meta["name"]  # set by the API server on every namespace
        ns["metadata"]["labels"] = labels
        inputs.namespaces[meta["name"]] = ns
    if obj.get("kind") == "CustomResourceDefinition" and str(obj.get("apiVersion")).startswith("apiextensions.k8s.io/"):
        crds.append(obj)


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _resource(obj: Mapping[str, Any], file: str, line: int | None, catalog: served.Catalog) -> Resource:
    if obj.get("kind") == "AdmissionReview" and str(obj.get("apiVersion", "")).startswith("admission.k8s.io/"):
        return _review(obj, file, line)
    group, version = _group_version(str(obj.get("apiVersion")))
    kind = str(obj.get("kind"))
    resolved = catalog.resolve(group, version, kind)  # NotServed (a ValueError) for a version not served
    resource, namespaced = resolved.resource, resolved.namespaced
    meta = obj.get("metadata") or {}
    if not namespaced and meta.get("namespace"):
        namespaced = True  # an unknown kind that says it is namespaced
    namespace = (meta.get("namespace") or "default") if namespaced else ""
    admitted = admitted_object(obj, group, kind, namespace)
    request = Request(
        operation="CREATE",
        group=group,
        version=version,
        kind=kind,
        resource=resource,
        sub_resource="",
        name=str(meta.get("name") or ""),
        namespace=namespace,
        object=admitted,
        old_object=None,
        options={"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    )
    return Resource(request, file, line, obj)


def admitted_object(obj: Mapping[str, Any], group: str, kind: str, namespace: str) -> dict[str, Any]:
    """The object as a policy sees it on CREATE: in its namespace, and a bare Pod prepared as the
    API server prepares it (`podsec.model.prepare`: hostNetwork's hostPort default, the AppArmor
    annotation copied to the field), as podsec's own checks see it too."""
    admitted = copy.deepcopy(dict(obj))
    if namespace:
        admitted.setdefault("metadata", {})["namespace"] = namespace  # as the API server sets it
    if group == "" and kind == "Pod":
        admitted = dict(prepare_pod(admitted))
    return admitted


_OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")


def _review_type(req: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """The request's kind {group, version, kind} and resource {group, version, resource}."""
    kind = req.get("kind") or {}
    res = req.get("resource") or {}
    if not isinstance(kind, dict) or not kind.get("kind") or not isinstance(res, dict) or not res.get("resource"):
        raise ValueError(
            "AdmissionReview request needs kind {group, version, kind} and resource {group, version, resource}"
        )
    return kind, res


def _text(values: Mapping[str, Any], key: str) -> str:
    return str(values.get(key) or "")


def _object(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, dict) else None


def _shown(request: Request) -> Mapping[str, Any]:
    """What a finding names: the object (the old one of a DELETE), with its kind when it has none."""
    shown = next((o for o in (request.object, request.old_object) if o is not None), {})
    if shown.get("kind"):
        return shown
    api_version = "/".join(p for p in (request.group, request.version) if p)
    return {**shown, "kind": request.kind, "apiVersion": api_version}


def _review(doc: Mapping[str, Any], file: str, line: int | None) -> Resource:
    req = doc.get("request")
    if not isinstance(req, dict):
        raise ValueError("AdmissionReview has no request")
    operation = req.get("operation")
    if operation not in _OPERATIONS:
        raise ValueError(f'AdmissionReview request.operation "{operation}" is not CREATE, UPDATE, DELETE or CONNECT')
    kind, res = _review_type(req)
    request = Request(
        operation=operation,
        group=_text(kind, "group"),
        version=_text(kind, "version"),
        kind=str(kind["kind"]),
        resource=str(res["resource"]),
        sub_resource=_text(req, "subResource"),
        name=_text(req, "name"),
        namespace=_text(req, "namespace"),
        object=_object(req.get("object")),
        old_object=_object(req.get("oldObject")),
        user_info=req.get("userInfo") or {"username": "podsec", "groups": ["system:masters"]},
        dry_run=bool(req.get("dryRun")),
        options=_object(req.get("options")),
    )
    return Resource(request, file, line, _shown(request))
