"""One review from body bytes to answer bytes, in two steps around the namespace lookup.

`read` decodes and checks the body; `answer` decides. Both run wherever the review runs: on
the event loop for small bodies, in a worker process for large ones (see `pool`). Neither
raises for anything a client can send: a bad body is a `Refusal` (HTTP 4xx with a short
reason), and an unexpected error becomes the configured failure mode's answer, logged.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, NamedTuple

import orjson

from podsec.admission.envelope import Request, ReviewError, clean, parse, printable, response
from podsec.admission.logs import MAX_FIELD, bounded
from podsec.admission.review import Decision, Reviewer

FAILURES = {  # reason -> (HTTP-like status code, reason, what happened)
    "deadline": (504, "Timeout", "the review did not finish within its deadline"),
    "overload": (503, "ServiceUnavailable", "the webhook is at capacity"),
    "worker": (500, "InternalError", "the review's worker process failed"),
    "internal": (500, "InternalError", "the review failed"),
}


class Refusal(Exception):
    """A request that is not a usable AdmissionReview: answered with an HTTP error status."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, clean(reason, 512)


class Answer(NamedTuple):
    body: bytes  # the AdmissionReview response
    log: dict[str, Any]  # the decision's log line (bounded fields)
    labels: tuple[str, str, str, str, str, str]  # endpoint, operation, resource, subresource, verdict, mode


_UID = re.compile(
    rb'^\s*\{(?:\s*"(?:kind|apiVersion)"\s*:\s*"[^"\\]*"\s*,)*\s*"request"\s*:\s*\{\s*"uid"\s*:\s*"([^"\\]{1,128})"'
)


def peek_uid(raw: bytes) -> str | None:
    """The request uid of a body not parsed yet, read from its first bytes without parsing the rest:
    the API server writes ``{"kind":…,"apiVersion":…,"request":{"uid":"…"`` (Go's field order).
    None when the body does not start that way."""
    found = _UID.match(raw[:1024])
    if found is None:
        return None
    try:
        return found.group(1).decode()
    except UnicodeDecodeError:
        return None


def read(raw: bytes) -> Request:
    """The request of a v1 AdmissionReview body, or Refusal. MemoryError when a worker's heap
    cannot hold it: that is not the client's fault (the failure mode answers it)."""
    try:
        return parse(orjson.loads(raw), printable(raw))
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("Not enough memory"):  # orjson reserves ~12 bytes a body byte first
            raise MemoryError(f"{len(raw)} bytes of JSON do not fit in the worker's heap") from None
        raise Refusal(400, f"malformed JSON: {exc}") from None
    except ReviewError as exc:
        raise Refusal(400, str(exc)) from None
    except RecursionError:
        raise Refusal(400, "the body is nested too deeply") from None


LARGE = 1024 * 1024  # a worker parses bodies above this with `read_large`
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("number is infinity when parsed as double")
    return value


def _int(text: str) -> int | float:
    value = int(text)
    return value if -(2**63) <= value < 2**64 else _float(text)  # as orjson: a double beyond 64 bits


def read_large(raw: bytes) -> Request:
    """`read` for a large body, in a worker: the standard library's parser needs the memory of
    what it builds (and of the text: one copy), where orjson first reserves about twelve bytes
    per body byte (a 16 MiB review needed a 256 MiB heap before anything was built) and may crash
    when the heap limit stops it. As strict as orjson: UTF-8 only, no NaN or Infinity, integers
    beyond 64 bits read as doubles, and no number past a double's range; a body with an escaped
    surrogate (the API server never writes one) is left to orjson, which checks pairs."""
    if _SURROGATE_ESCAPE.search(raw):
        return read(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(400, f"malformed JSON: not UTF-8 at byte {exc.start}") from None
    try:
        body = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except ValueError as exc:
        raise Refusal(400, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise Refusal(400, "the body is nested too deeply") from None
    del text
    try:
        return parse(body, printable(raw))
    except ReviewError as exc:
        raise Refusal(400, str(exc)) from None


_VERDICTS = {"warn": "warn", "mutate": "mutate", "exempt": "exempt", "skip": "skip", "error": "error"}


def verdict(decision: Decision) -> str:
    return _VERDICTS.get(decision.mode, "allow") if decision.allowed else "deny"


def _generate_name(obj: Any) -> object:
    """The object's ``metadata.generateName`` (what names it in the log when it has no name yet)."""
    meta = (obj or {}).get("metadata")
    return meta.get("generateName") if isinstance(meta, dict) else None


def answer(
    request: Request,
    endpoint: str,
    reviewer: Reviewer,
    labels: Mapping[str, str] | None,
    known: bool,
    today: date,
) -> Answer:
    """Review a `read` request: the response and what to log and count. Raises Refusal for input
    that only shows itself as bad while reviewing (nesting beyond what can be keyed)."""
    operation, resource, subresource = request.operation, request.resource, request.subresource
    try:
        if endpoint == "validate":
            body, decision = reviewer.review(request, labels, namespace_known=known, today=today)
        else:
            body, decision = reviewer.mutate(request, labels, namespace_known=known)
    except ReviewError as exc:
        raise Refusal(400, str(exc)) from None
    except RecursionError:
        raise Refusal(400, "the object is nested too deeply") from None
    v = _VERDICTS.get(decision.mode, "allow") if decision.allowed else "deny"
    name: object = request.name or _generate_name(request.obj)
    namespace, user = request.namespace, request.username
    log = {
        "uid": request.uid,
        "endpoint": endpoint,
        "operation": operation,
        "resource": resource if len(resource) <= 64 else bounded(resource, 64),
        "subresource": subresource if len(subresource) <= 64 else bounded(subresource, 64),
        # parse() made name and namespace strings or None; bounded() only for what is long or odd
        "namespace": namespace if namespace is None or len(namespace) <= MAX_FIELD else bounded(namespace),
        "name": name if type(name) is str and len(name) <= MAX_FIELD else bounded(name),
        "user": user if type(user) is str and len(user) <= MAX_FIELD else bounded(user),
        "dryRun": request.dry_run,
        "decision": v,
        "mode": decision.mode,
        "reason": decision.reason,  # podsec's own short text
    }
    return Answer(orjson.dumps(body), log, (endpoint, operation, resource, subresource, v, decision.mode))


def enforcing(request: Request | None, reviewer: Reviewer) -> bool:
    """Whether a review of ``request`` could deny (None: not known, so it could)."""
    if request is None:
        return True
    return request.resource == "pods" or reviewer.config.enforce_workloads


def unreviewed(
    uid: str, endpoint: str, reason: str, failure_mode: str, *, may_deny: bool, detail: str = ""
) -> tuple[bytes, str]:
    """The explicit answer to a review that could not be finished: the failure mode's. Returns the
    response and the decision ("deny" or "allow").

    ``deny`` (the default) answers like a failed call under ``failurePolicy: Fail``, but at once
    and with a reason; ``allow`` admits the object with a warning and an ``unreviewed`` audit
    annotation. Mutation is always skipped, never denied (validation still enforces), and a
    review that could only warn (a workload) is allowed either way.
    """
    code, status_reason, what = FAILURES[reason]
    text = clean(f"{what}{': ' + detail if detail else ''}", 512)
    if endpoint == "mutate" or failure_mode == "allow" or not may_deny:
        note = f"podsec: not {'mutated' if endpoint == 'mutate' else 'reviewed'}: {text}"
        body = response(uid, True, warnings=[clean(note, 256)], auditAnnotations={"unreviewed": text})
        return orjson.dumps(body), "allow"
    status = {
        "code": code,
        "reason": status_reason,
        "status": "Failure",
        "message": f"podsec could not review this request ({text}); denied by its failure mode",
    }
    return orjson.dumps(response(uid, False, status=status, auditAnnotations={"unreviewed": text})), "deny"
