"""The AdmissionReview envelope, typed: the request podsec reads (`Request`, made by `parse`)
and the response it writes (`Response`). Pure; nothing here decides anything.

`parse` checks every field the webhook reads has its Kubernetes type, so the rest of the
webhook reads attributes, not a client's untyped JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_UID = 128  # the API server's uids are UUIDs; a uid must be echoed whole, so a longer one is refused
MAX_ECHO = 64  # how much of a bad value an error message quotes
MAX_DEPTH = 254  # JSON nesting (orjson's own limit when writing); Kubernetes objects nest a dozen levels
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


class ReviewError(ValueError):
    """The request is not a usable AdmissionReview (answered with HTTP 400)."""


def clean(text: str, limit: int) -> str:
    """No control characters, at most ``limit`` characters (an ellipsis marks the cut)."""
    if not text.isprintable():
        text = _CONTROL.sub(" ", text)
    return trimmed(text, limit)


def trimmed(text: str, limit: int) -> str:
    """`clean` for text made only of cleaned parts (no control characters): stripped and cut."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def echo(value: Any) -> str:
    """A client's value, quoted in an error message: a repr of at most MAX_ECHO characters."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = repr(value) if not isinstance(value, str) or len(value) <= MAX_ECHO else repr(value[:MAX_ECHO]) + "\u2026"
    return clean(text, MAX_ECHO + 8)


# The request's fields read with .get(), and their types.
_TYPES = (
    ("kind", dict, "an object"),
    ("resource", dict, "an object"),
    ("userInfo", dict, "an object"),
    ("object", dict, "an object"),
    ("oldObject", dict, "an object"),
    ("name", str, "a string"),
    ("namespace", str, "a string"),
    ("subResource", str, "a string"),
)


def printable(raw: bytes) -> bool:
    """Whether every string in this JSON text is printable ASCII: no byte above 0x7F, no escape
    (JSON writes control characters only as escapes) and no DEL. A few hundred instructions for
    a pod (a word-at-a-time ASCII test and two memchr scans), where `str.isprintable` costs ~27
    per character of every text made from it."""
    return raw.isascii() and b"\\" not in raw and b"\x7f" not in raw


def parse(body: Any, printable: bool = False) -> Request:
    """The ``request`` of an ``admission.k8s.io/v1`` AdmissionReview, or ReviewError.

    The fields the webhook reads must have their Kubernetes types; error messages quote
    at most MAX_ECHO characters of what was sent. ``printable``: every string in the body is
    printable ASCII (`printable`), which the request carries for the texts made from it.
    """
    if not isinstance(body, dict):
        raise ReviewError("the body is not a JSON object")
    if body.get("apiVersion") != "admission.k8s.io/v1" or body.get("kind") != "AdmissionReview":
        got = f"{echo(body.get('apiVersion'))}/{echo(body.get('kind'))}"
        raise ReviewError(f"expected an admission.k8s.io/v1 AdmissionReview, got {got}")
    request = body.get("request")
    uid = request.get("uid") if isinstance(request, dict) else None
    if not isinstance(uid, str) or not uid:
        raise ReviewError("the AdmissionReview has no request with a uid")
    if len(uid) > MAX_UID or not (printable or uid.isprintable()):
        raise ReviewError(f"request.uid: not a uid (at most {MAX_UID} printable characters): {echo(uid)}")
    assert isinstance(request, dict)
    if request.get("operation") not in ("CREATE", "UPDATE", "DELETE", "CONNECT"):
        raise ReviewError(f"unknown operation {echo(request.get('operation'))}")
    return _typed(uid, request, printable)


def _objects(a: object, b: object, c: object, d: object, e: object) -> bool:
    """Each is absent or a JSON object (exactly a dict)."""
    return (
        (a is None or type(a) is dict)
        and (b is None or type(b) is dict)
        and (c is None or type(c) is dict)
        and (d is None or type(d) is dict)
        and (e is None or type(e) is dict)
    )


def _strings(a: object, b: object, c: object, d: object) -> bool:
    """Each is absent or exactly a str."""
    return (
        (a is None or type(a) is str)
        and (b is None or type(b) is str)
        and (c is None or type(c) is str)
        and (d is None or type(d) is str)
    )


def _check_types(request: Mapping[str, Any]) -> None:
    """ReviewError for the first field the webhook reads that has not its Kubernetes type."""
    for key, expected, what in _TYPES:
        value = request.get(key)
        if value is not None and not isinstance(value, expected):
            raise ReviewError(f"request.{key}: expected {what}, got {echo(value)}")
    username = (request.get("userInfo") or {}).get("username")
    if username is not None and not isinstance(username, str):  # PSA's exemptions compare it
        raise ReviewError(f"request.userInfo.username: expected a string, got {echo(username)}")


def _typed(uid: str, request: dict[str, Any], printable: bool) -> Request:
    """The `Request` of a request `parse` checked so far; each field read once and its type checked
    (`_check_types` says which field is wrong)."""
    get = request.get
    kind_of, resource_of, user = get("kind"), get("resource"), get("userInfo")
    obj, old = get("object"), get("oldObject")
    name, namespace, subresource = get("name"), get("namespace"), get("subResource")
    username = user.get("username") if isinstance(user, dict) else None
    if not (_objects(kind_of, resource_of, user, obj, old) and _strings(name, namespace, subresource, username)):
        _check_types(request)  # JSON makes exact dicts and strs: anything else is checked here (raises if wrong)
    resource = str((resource_of or {}).get("resource", ""))
    kind = (kind_of or {}).get("kind")
    return Request(
        uid,
        request["operation"],
        resource,
        subresource or "",
        kind,
        name,
        namespace,
        username,
        obj,
        old,
        get("dryRun") is True,
        resource == "pods" and kind == "Pod",
        printable,
    )


def response(
    uid: str,
    allowed: bool,
    *,
    status: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    auditAnnotations: dict[str, str] | None = None,
    patch: str | None = None,
    patchType: str | None = None,
) -> dict[str, Any]:
    """An AdmissionReview response; empty fields are left out (a patch is a JSONPatch: v1's only type)."""
    return Response(allowed, status, warnings, auditAnnotations, patch).render(uid)


@dataclass(slots=True, init=False)  # a written __init__: native when compiled (CONTRIBUTING.md, "Hot values")
class Request:
    """The ``request`` of an AdmissionReview, as `parse` checked it: the fields podsec reads.
    Treated as immutable; not a frozen dataclass, which costs ten times as much to make (one
    is made per review, on the hot path)."""

    uid: str
    operation: str  # CREATE, UPDATE, DELETE or CONNECT
    resource: str  # request.resource.resource ("pods", "deployments", ...; "" when absent)
    subresource: str  # "" when absent
    kind: Any  # request.kind.kind ("Pod", ...), as sent (any JSON value; mypyc cannot build a field typed object)
    name: str | None
    namespace: str | None
    username: str | None  # request.userInfo.username
    obj: Any  # request.object (a mapping for CREATE and UPDATE)
    old: Any  # request.oldObject
    dry_run: bool
    is_pod: bool  # the request is about a Pod (resource pods, kind Pod)
    printable: bool  # every string in the body is printable ASCII (`printable`): no text made of them needs cleaning

    def __init__(  # one parameter per field
        self,
        uid: str,
        operation: str,
        resource: str,
        subresource: str,
        kind: Any,
        name: str | None,
        namespace: str | None,
        username: str | None,
        obj: Any,
        old: Any,
        dry_run: bool,
        is_pod: bool,
        printable: bool = False,
    ) -> None:
        self.uid, self.operation, self.resource, self.subresource = uid, operation, resource, subresource
        self.kind, self.name, self.namespace, self.username = kind, name, namespace, username
        self.obj, self.old, self.dry_run, self.is_pod, self.printable = obj, old, dry_run, is_pod, printable


@dataclass(slots=True, init=False)  # a written __init__: native when compiled
class Response:
    """What a review answers, before it is written as an AdmissionReview (`render`)."""

    allowed: bool
    status: dict[str, Any] | None
    warnings: list[str] | None
    audit: dict[str, str] | None
    patch: str | None  # a base64 JSON Patch (mutation)

    def __init__(
        self,
        allowed: bool,
        status: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
        audit: dict[str, str] | None = None,
        patch: str | None = None,
    ) -> None:
        self.allowed, self.status, self.warnings, self.audit, self.patch = allowed, status, warnings, audit, patch

    def render(self, uid: str) -> dict[str, Any]:
        """The AdmissionReview; empty fields are left out."""
        body: dict[str, Any] = {"uid": uid, "allowed": self.allowed}
        if self.status:
            body["status"] = self.status
        if self.warnings:
            body["warnings"] = self.warnings
        if self.audit:
            body["auditAnnotations"] = self.audit
        if self.patch:
            body["patch"] = self.patch
            body["patchType"] = "JSONPatch"
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": body}
