"""The webhook's review endpoints, ``/validate`` and ``/mutate`` (the hot path, plain ASGI), and
the application that routes to them and hands everything else to starlette (`routes`)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from podsec.admission import envelope, handling
from podsec.admission.handling import Refusal
from podsec.admission.logs import LOG, bounded
from podsec.admission.pool import Job, Overloaded, WorkerFailed
from podsec.admission.review import Reviewer
from podsec.admission.state import State
from podsec.model.pod import CONTAINER_KINDS, get_path

log = logging.getLogger("podsec.webhook")
PEEK_PARSE_LIMIT = 1024 * 1024  # a late review's body is parsed on the loop (for its uid) only up to this size


def _containers(obj: Any, reviewer: Reviewer) -> int:
    """How many containers the object's pods have (what bounds a review's work, with its size)."""
    if not isinstance(obj, dict):
        return 0
    if obj.get("kind") == "Pod":  # the common case, without pod extraction
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return 0
        count = 0
        for name in CONTAINER_KINDS:
            found = spec.get(name)
            if isinstance(found, list):
                count += len(found)
        return count
    count = 0
    for src in reviewer.config.kinds.pod_sources(obj):
        for cs in src.containers:
            found = get_path(obj, cs.path)
            count += len(found) if isinstance(found, list) else 1
    return count


def _declared(scope: Scope, limit: int) -> int | None:
    """The body's declared Content-Length (None: not declared), once the headers are acceptable:
    a JSON content type, no content encoding, a declared length within ``limit``; else Refusal."""
    headers = dict(scope["headers"])  # a repeated header: its last value, as a loop over them would take
    ctype, length, encoding = (
        headers.get(b"content-type", b""),
        headers.get(b"content-length"),
        headers.get(b"content-encoding"),
    )
    if encoding is not None and encoding.strip().lower() != b"identity":  # never inflated: a bomb
        text = bounded(encoding.decode("latin-1"), 64)
        raise Refusal(415, f"Content-Encoding {text} is not accepted: the API server sends reviews uncompressed")
    if ctype != b"application/json":  # the API server's exact header; anything else is parsed
        media = ctype.decode("latin-1").split(";")[0].strip().lower()
        if media != "application/json":
            raise Refusal(400, f"expected Content-Type application/json, got {bounded(media, 64) or 'none'}")
    declared = int(length) if length is not None and length.isdigit() else None
    if declared is not None and declared > limit:
        raise Refusal(413, f"request body larger than {limit} bytes")
    return declared


async def _read(state: State, scope: Scope, receive: Receive) -> bytes:
    """The request body: JSON content type, within max_body and the body budget. The caller gives
    the bytes back to the budget. A body that does not arrive in time is the guard's to drop."""
    limit = state.settings.max_body
    declared = _declared(scope, limit)
    budget = state.budget
    held = declared or 0
    if budget.used + held > budget.limit:
        raise Refusal(503, "too many request bodies in flight; retry")
    budget.used += held
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refusal(400, "client disconnected")
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise Refusal(413, f"request body larger than {limit} bytes")
            if size > held:
                if not budget.take(size - held):
                    raise Refusal(503, "too many request bodies in flight; retry")
                held = size
            parts.append(chunk)
            if not message.get("more_body"):
                break
    except BaseException:
        budget.give(held)
        raise
    if size < held:
        budget.give(held - size)
    if not size:
        budget.give(size)
        raise Refusal(400, "empty request body")
    return parts[0] if len(parts) == 1 else b"".join(parts)


async def _send(send: Send, status: int, body: bytes, *, close: bool = False, retry: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    if retry:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ReviewEndpoint:
    """``/validate`` and ``/mutate`` as plain ASGI: this is the hot path, so no per-request objects."""

    def __init__(self, state: State, endpoint: str) -> None:
        self.state, self.endpoint = state, endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _send(send, 405, b'{"error": "use POST"}')
            return
        state, endpoint = self.state, self.endpoint
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            raw = await _read(state, scope, receive)
        except Refusal as exc:
            await self._refuse(send, exc)
            return
        reviewer = state.reviewer
        settings = state.settings
        request: envelope.Request | None = None
        job: Job | None = None
        try:
            if len(raw) <= settings.inline_bytes or state.pool is None:
                request = handling.read(raw)
                namespace = request.namespace or ""
                found = state.namespaces.cached(namespace)
                known, labels = found if found is not None else await state.namespaces.lookup(namespace)
                inline = state.pool is None or (
                    _containers(request.obj, reviewer) <= settings.inline_containers
                    and not (reviewer.config.policy_sets and reviewer.uses_policies(labels))
                )
                if inline:  # the hot path: a bounded amount of work, answered here
                    result = handling.answer(request, endpoint, reviewer, labels, known, state.today())
                    elapsed = loop.time() - start
                    state.metrics.count(result.labels, elapsed)
                    await _send(send, 200, result.body, close=state.shutting_down)
                    fields = result.log
                    fields["ms"] = int(elapsed * 1e6) / 1000
                    LOG.line("admission review", fields)
                    return
                job = Job(endpoint, raw, state.today().isoformat(), state.namespaces.lookup, known, labels,
                          request.uid, handling.enforcing(request, reviewer))  # fmt: skip
            else:
                job = Job(endpoint, raw, state.today().isoformat(), state.namespaces.lookup)
            await self._run(job, send, start, start + state.deadline(scope))
        except Refusal as exc:
            await self._refuse(send, exc)
        except Exception as exc:  # a bug: never a traceback to the client, always an explicit answer
            log.error("review failed", exc_info=exc)
            await self._unreviewed(send, raw, request, job, "internal", bounded(repr(exc), 200), start)
        finally:
            state.budget.used -= len(raw)  # BodyBudget.give, inline: every review passes here

    async def _refuse(self, send: Send, exc: Refusal) -> None:
        self.state.metrics.bad_request(exc.status)
        LOG.line("bad request", {"endpoint": self.endpoint, "status": exc.status, "reason": exc.reason}, "warning")
        close = exc.status in (408, 413, 415, 503)  # the rest of that body is not read: start afresh
        await _send(send, exc.status, orjson.dumps({"error": exc.reason}), close=close, retry=exc.status == 503)

    async def _run(self, job: Job, send: Send, start: float, deadline: float) -> None:
        state = self.state
        assert state.pool is not None
        try:
            state.pool.submit(job)
        except Overloaded:
            await self._unreviewed(send, job.raw, None, job, "overload", "", start)
            return
        loop = asyncio.get_running_loop()
        try:
            kind, header, body = await asyncio.wait_for(asyncio.shield(job.result), max(0.0, deadline - loop.time()))
        except TimeoutError:
            state.pool.abandon(job)
            limit = f"{deadline - start:.1f} s"
            await self._unreviewed(send, job.raw, None, job, "deadline", limit, start)
            return
        except WorkerFailed as exc:
            await self._unreviewed(send, job.raw, None, job, "worker", bounded(str(exc), 200), start)
            return
        if kind == "bad":
            raise Refusal(int(header.get("status") or 400), str(header.get("reason") or "bad request"))
        labels: Any = tuple(header["labels"])
        await self._answer(send, body, header["log"], labels, start)

    async def _answer(
        self, send: Send, body: bytes, fields: dict[str, Any], labels: tuple[str, str, str, str, str, str], start: float
    ) -> None:
        state = self.state
        elapsed = asyncio.get_running_loop().time() - start
        state.metrics.count(labels, elapsed)
        await _send(send, 200, body, close=state.shutting_down)
        fields["ms"] = int(elapsed * 1e6) / 1000
        LOG.line("admission review", fields)

    async def _unreviewed(
        self,
        send: Send,
        raw: bytes,
        request: envelope.Request | None,
        job: Job | None,
        reason: str,
        detail: str,
        start: float,
    ) -> None:
        """The failure mode's answer. The uid comes from what was read already; only when no one
        read the body yet (a review that waited in the queue) is it read here, once."""
        state = self.state
        uid = request.uid if request is not None else job.uid if job is not None else None
        may_deny = job.may_deny if job is not None else handling.enforcing(request, state.reviewer)
        if uid is None:
            uid = handling.peek_uid(raw)
        if uid is None and len(raw) <= PEEK_PARSE_LIMIT:
            try:
                request = handling.read(raw)
            except Refusal as exc:
                await self._refuse(send, exc)
                return
            uid = request.uid
            may_deny = handling.enforcing(request, state.reviewer)
        if uid is None:  # a large body in an unusual shape: not parsed here (memory), a call failure instead
            state.metrics.not_reviewed(self.endpoint, reason)
            await self._refuse(send, Refusal(503, f"{handling.FAILURES[reason][2]}; retry"))
            return
        mode = state.reviewer.config.failure_mode
        body, decision = handling.unreviewed(uid, self.endpoint, reason, mode, may_deny=may_deny, detail=detail)
        state.metrics.not_reviewed(self.endpoint, reason)
        elapsed = asyncio.get_running_loop().time() - start
        await _send(send, 200, body, close=state.shutting_down)
        fields = {"uid": uid, "endpoint": self.endpoint, "reason": reason, "detail": detail, "decision": decision,
                  "failureMode": mode, "ms": int(elapsed * 1e6) / 1000}  # fmt: skip
        LOG.line("admission review not finished: answered by the failure mode", fields, "warning")


class App:
    """The webhook's ASGI application. ``/validate`` and ``/mutate`` go straight to their endpoints:
    starlette's error and exception middleware and its router cost about 45,000 instructions a
    review, a fifth of the echo ceiling's whole request. Everything else (health, readiness,
    metrics, the lifespan, 404s for any other path, ``/validate/`` included) goes through starlette.
    The endpoints answer every error themselves; what would still escape is uvicorn's to log and
    answer (500), as starlette's error middleware did."""

    def __init__(self, reviews: dict[str, ReviewEndpoint], rest: Starlette) -> None:
        self.reviews, self.rest = reviews, rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":  # the path exactly: no root_path is configured, no redirects
            endpoint = self.reviews.get(scope["path"])
            if endpoint is not None:
                await endpoint(scope, receive, send)
                return
        await self.rest(scope, receive, send)
