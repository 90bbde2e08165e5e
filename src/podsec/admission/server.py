"""The HTTPS admission server: starlette on uvicorn (uvloop, httptools).

Endpoints: ``POST /validate``, ``POST /mutate`` (AdmissionReview v1), ``GET /healthz``
(the event loop answers), ``GET /readyz`` (TLS loaded, namespace labels available, a review
worker running), ``GET /metrics`` (Prometheus).

No single request can stall, bloat or bypass it:

* **Stall.** Small reviews (a body of at most ``inline_bytes`` with at most
  ``inline_containers`` containers and no Rego policies: a bounded amount of work) are answered
  on the event loop; everything else goes to worker processes (`pool`), at most ``queue``
  waiting. Every review has a deadline shorter than the webhook's timeout (the API server's
  ``?timeout=`` too); a review not answered by then, or refused by a full queue, gets the
  configured failure mode's answer at once, logged, and the worker still on it is replaced.
* **Bloat.** Bodies are limited each (``max_body``, 413) and together (``body_budget``, 503
  with Retry-After); connections, header sizes, handshake, header and idle times are limited
  (`guard`); caches are sized in bytes; what a client sent is quoted only in bounded pieces;
  metric labels come from fixed sets; workers are recycled when their memory grows.
* **Statuses.** A body that is not a v1 AdmissionReview gets 400 with a short reason (bad
  JSON, nesting, lone surrogates, wrong types included); ``/validate/`` is 404, never a
  redirect built from the Host header; logging goes through a bounded queue and a thread, so
  a blocked log stream never blocks a review.

The certificate files are re-read when they change, so rotation needs no restart; SIGTERM
fails readiness, keeps serving while the endpoint is removed, then drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs

import orjson
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from podsec.admission import handling
from podsec.admission.guard import BodyBudget, GuardedServer, Limits
from podsec.admission.handling import Refusal
from podsec.admission.logs import LOG, QUEUE_BYTES, bounded
from podsec.admission.metrics import Metrics
from podsec.admission.namespaces import NamespaceLabels
from podsec.admission.pool import Job, Overloaded, Pool, WorkerFailed
from podsec.admission.review import Reviewer
from podsec.model.pod import get_path

PEEK_PARSE_LIMIT = 1024 * 1024  # a late review's body is parsed on the loop (for its uid) only up to this size
__all__ = ["CertReloader", "Metrics", "ServerSettings", "State", "Today", "build_app", "serve"]

MiB = 1024 * 1024
log = logging.getLogger("podsec.webhook")
# Measured on CPython 3.11 (README, "Webhook limits"): resident memory of a started server, of a
# worker's code and libraries (shared pages excluded from its heap limit), per open TLS connection
# (OpenSSL's buffers and uvicorn's: at most 48 KiB measured; plus answers the client has not read:
# up to the 64 KiB write buffer's mark and one answer of at most 96 KiB, a bounded patch), and of
# an inline review per body byte (parsed JSON and views).
BASE_MAIN = 80 * MiB
BASE_WORKER_CODE = 24 * MiB
PER_CONNECTION = 208 * 1024
INLINE_PEAK_PER_BYTE = 128
CACHE_BYTES = 16 * MiB


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The server's bounds. Defaults and why: see the README, "Webhook limits"."""

    workers: int = 2
    deadline: float = 8.0  # seconds per review, and within the API server's ?timeout= (the manifests': 10)
    queue: int = 8  # reviews waiting for a worker
    # What a real API server sends (measured, kube-apiserver 1.37): a pod's review carries its
    # defaults and managedFields, ~315 bytes a minimal container; etcd stores no pod past about
    # 27,000 of them, whose UPDATE (object and oldObject) is ~16 MB. (The 3 MiB request of
    # 90,000 arrives as 28 MB, in a dry run only: it is refused, 413, failing closed.)
    max_body: int = 16 * MiB
    body_budget: int = 32 * MiB  # bodies held at once, all requests together
    inline_bytes: int = 64 * 1024
    inline_containers: int = 64
    # Each worker's heap (RLIMIT_DATA); replaced after a review above half of it. A 16 MiB review
    # as the API server sends it needs 128 MiB (parsed by `handling.read_large`; evaluated a slice
    # of containers at a time); a review that needs more gets the failure mode.
    worker_memory: int = 160 * MiB
    limits: Limits = field(default_factory=Limits)

    def memory_bound(self) -> int:
        """The most memory the server and its workers can hold, in bytes (README, "Webhook limits").

        Main process: its start-up size, the body budget and one body's copy (a body that came
        in parts is joined, one at a time), every connection's TLS and HTTP buffers with the
        answers its client has not read yet, the evaluation cache, the log queue and an inline
        review; each worker: its heap limit and its code.
        """
        main = BASE_MAIN + self.body_budget + self.max_body + self.limits.max_connections * PER_CONNECTION
        main += CACHE_BYTES + 2 * QUEUE_BYTES + INLINE_PEAK_PER_BYTE * self.inline_bytes
        return main + self.workers * (self.worker_memory + BASE_WORKER_CODE)


class CertReloader:
    """Serves from one SSLContext and loads new certificate files into it when they change."""

    def __init__(self, cert: str, key: str) -> None:
        self.cert, self.key = cert, key
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_alpn_protocols(["http/1.1"])
        self._stamp = self._current()
        self.context.load_cert_chain(cert, key)
        self.reloads = 0

    def _current(self) -> tuple[float, int, float, int]:
        c, k = os.stat(self.cert), os.stat(self.key)
        return c.st_mtime, c.st_size, k.st_mtime, k.st_size

    def check(self) -> bool:
        """Reload when the files changed; True when a new certificate is now served."""
        try:
            stamp = self._current()
            if stamp == self._stamp:
                return False
            # Try the pair in a scratch context first: loading into the live one replaces the
            # certificate before it checks the key, so a mismatched pair (files caught mid-update)
            # would break handshakes until the next reload.
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.cert, self.key)
            self.context.load_cert_chain(self.cert, self.key)  # new handshakes use it; old ones keep theirs
        except (OSError, ssl.SSLError) as exc:  # half-written files: keep serving the old pair, try again
            log.warning("certificate reload failed; keeping the current one", extra={"fields": {"error": str(exc)}})
            return False
        self._stamp = stamp
        self.reloads += 1
        log.info("certificate reloaded", extra={"fields": {"cert": self.cert}})
        return True


class Today:
    """``date.today()``, asked of the C library at most once a second (the hot path calls it per review)."""

    def __init__(self) -> None:
        self._second, self._day = -1, date.today()

    def __call__(self) -> date:
        second = int(time.time())
        if second != self._second:
            self._second, self._day = second, date.today()
        return self._day


@dataclass
class State:
    reviewer: Reviewer
    namespaces: NamespaceLabels
    metrics: Metrics = field(default_factory=Metrics)
    certs: CertReloader | None = None
    reload_interval: float = 10.0
    shutting_down: bool = False
    loop: asyncio.AbstractEventLoop | None = None  # set at startup, for the signal handler
    today: Callable[[], date] = field(default_factory=Today)
    settings: ServerSettings = field(default_factory=ServerSettings)
    pool: Pool | None = None  # None: every review on the event loop (tests of the review logic)
    budget: BodyBudget = field(default_factory=lambda: BodyBudget(ServerSettings().body_budget))
    server: Any = None  # the uvicorn server, for its connection count

    def deadline(self, scope: Scope) -> float:
        """Seconds this review may take: the configured deadline, and within the API server's
        ``?timeout=`` less a tenth of it (at least half a second) for the answer to travel back."""
        seconds = self.settings.deadline
        query = scope.get("query_string") or b""
        if b"timeout=" in query:
            values = parse_qs(query.decode("latin-1")).get("timeout") or [""]
            text = values[0].strip().lower().removesuffix("s")
            with contextlib.suppress(ValueError):
                timeout = float(text)
                seconds = min(seconds, max(0.2, timeout - max(0.5, timeout / 10)))
        return seconds


_POD_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _containers(obj: Any, reviewer: Reviewer) -> int:
    """How many containers the object's pods have (what bounds a review's work, with its size)."""
    if not isinstance(obj, dict):
        return 0
    if obj.get("kind") == "Pod":  # the common case, without pod extraction
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return 0
        count = 0
        for name in _POD_LISTS:
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


async def _read(state: State, scope: Scope, receive: Receive) -> bytes:
    """The request body: JSON content type, within max_body and the body budget. The caller gives
    the bytes back to the budget. A body that does not arrive in time is the guard's to drop."""
    ctype, length, encoding = b"", None, None
    for name, value in scope["headers"]:
        if name == b"content-type":
            ctype = value
        elif name == b"content-length":
            length = value
        elif name == b"content-encoding":
            encoding = value
    if encoding is not None and encoding.strip().lower() != b"identity":  # never inflated: a bomb
        text = bounded(encoding.decode("latin-1"), 64)
        raise Refusal(415, f"Content-Encoding {text} is not accepted: the API server sends reviews uncompressed")
    if ctype != b"application/json":  # the API server's exact header; anything else is parsed
        media = ctype.decode("latin-1").split(";")[0].strip().lower()
        if media != "application/json":
            raise Refusal(400, f"expected Content-Type application/json, got {bounded(media, 64) or 'none'}")
    limit = state.settings.max_body
    declared = int(length) if length is not None and length.isdigit() else None
    if declared is not None and declared > limit:
        raise Refusal(413, f"request body larger than {limit} bytes")
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
        request: Mapping[str, Any] | None = None
        job: Job | None = None
        try:
            if len(raw) <= settings.inline_bytes or state.pool is None:
                request = handling.read(raw)
                known, labels = await state.namespaces.lookup(str(request.get("namespace") or ""))
                inline = state.pool is None or (
                    _containers(request.get("object"), reviewer) <= settings.inline_containers
                    and not (reviewer.config.policy_sets and reviewer.uses_policies(labels))
                )
                if inline:  # the hot path: a bounded amount of work, answered here
                    result = handling.answer(request, endpoint, reviewer, labels, known, state.today())
                    elapsed = loop.time() - start
                    state.metrics.reviewed(*result.labels, elapsed)
                    await _send(send, 200, result.body, close=state.shutting_down)
                    fields = result.log
                    fields["ms"] = int(elapsed * 1e6) / 1000
                    LOG.line("admission review", fields)
                    return
                job = Job(endpoint, raw, state.today().isoformat(), state.namespaces.lookup, known, labels,
                          request["uid"], handling.enforcing(request, reviewer))  # fmt: skip
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
        state.metrics.reviewed(*labels, elapsed)
        await _send(send, 200, body, close=state.shutting_down)
        fields["ms"] = int(elapsed * 1e6) / 1000
        LOG.line("admission review", fields)

    async def _unreviewed(
        self,
        send: Send,
        raw: bytes,
        request: Mapping[str, Any] | None,
        job: Job | None,
        reason: str,
        detail: str,
        start: float,
    ) -> None:
        """The failure mode's answer. The uid comes from what was read already; only when no one
        read the body yet (a review that waited in the queue) is it read here, once."""
        state = self.state
        uid = request["uid"] if request is not None else job.uid if job is not None else None
        may_deny = job.may_deny if job is not None else handling.enforcing(request, state.reviewer)
        if uid is None:
            uid = handling.peek_uid(raw)
        if uid is None and len(raw) <= PEEK_PARSE_LIMIT:
            try:
                request = handling.read(raw)
            except Refusal as exc:
                await self._refuse(send, exc)
                return
            uid = request["uid"]
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


def build_app(state: State) -> Starlette:
    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        checks = {
            "tls": state.certs is not None,
            "namespaces": state.namespaces.ready,
            "workers": state.pool is None or state.pool.ready,
            "accepting": not state.shutting_down,
        }
        ok = all(checks.values())
        return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        m = state.metrics
        pool = state.pool
        server = state.server
        gauges = {
            "podsec_webhook_workers_busy": ("Review workers busy", pool.busy if pool else 0),
            "podsec_webhook_queue_length": ("Reviews waiting for a worker", len(pool.pending) if pool else 0),
            "podsec_webhook_worker_restarts": ("Review workers replaced", pool.restarts if pool else 0),
            "podsec_webhook_connections": ("Open connections", len(server.server_state.connections) if server else 0),
            "podsec_webhook_body_bytes": ("Request body bytes held", state.budget.used),
            "podsec_webhook_log_lines_dropped": ("Log lines dropped", LOG.sink.dropped if LOG.sink else 0),
            "podsec_webhook_log_bytes_queued": ("Log bytes not yet written", LOG.sink.queued if LOG.sink else 0),
            "podsec_webhook_cache_bytes": ("Evaluation cache bytes", state.reviewer.cache_size),
        }
        m.gauges = {k: (doc, float(v)) for k, (doc, v) in gauges.items()}
        return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.loop = asyncio.get_running_loop()
        await state.namespaces.start()
        if state.pool is not None:
            await state.pool.start()
        reloader = asyncio.create_task(_reload_certs(state)) if state.certs else None
        gc.freeze()  # what start-up loaded lives for good: keep it out of every collection
        try:
            yield
        finally:
            state.shutting_down = True
            if reloader:
                reloader.cancel()
            if state.pool is not None:
                await state.pool.stop()
            await state.namespaces.stop()

    app = Starlette(
        routes=[
            Route("/validate", ReviewEndpoint(state, "validate")),
            Route("/mutate", ReviewEndpoint(state, "mutate")),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # a redirect would be built from the client's Host header
    return app


async def _reload_certs(state: State) -> None:
    assert state.certs is not None
    while True:
        await asyncio.sleep(state.reload_interval)
        state.certs.check()


def worker_argv(config: str | None, memory: int) -> list[str]:
    flags = ["-S"] if sys.flags.no_site else []  # as the server was started (the image runs python3 -S)
    argv = [sys.executable, *flags, "-m", "podsec.admission.worker", "--memory-bytes", str(memory)]
    return [*argv, "--config", config] if config else argv


def serve(state: State, *, host: str, port: int, graceful_seconds: int = 25, shutdown_delay: float = 5.0) -> None:
    """Run until SIGTERM/SIGINT, then drain: readiness fails at once, requests are still served for
    ``shutdown_delay`` seconds (Kubernetes removes the endpoint asynchronously, so requests keep
    arriving for a moment), then the listener closes and in-flight requests get ``graceful_seconds``.
    A second signal skips the delay."""
    import uvicorn

    limits = state.settings.limits
    config = uvicorn.Config(
        build_app(state),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        # No WebSocket protocol: uvicorn[standard] brings one, and an Upgrade request would hand its
        # connection to it, beyond the guard's timeouts and eviction. Without it, an Upgrade header
        # is ignored and the request answered like any other.
        ws="none",
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=graceful_seconds,
        timeout_keep_alive=int(limits.idle_timeout),
    )
    config.load()
    if state.certs is not None:
        config.ssl = state.certs.context  # our context, so certificates can be reloaded into it
    server = GuardedServer(config)
    server.limits = limits
    state.server = server

    original = server.handle_exit

    def handle_exit(sig: int, frame: Any) -> None:
        loop = state.loop
        if state.shutting_down or loop is None or shutdown_delay <= 0:
            state.shutting_down = True
            original(sig, frame)
            return
        state.shutting_down = True  # readiness fails; answers say Connection: close from now on
        log.info("shutting down", extra={"fields": {"signal": sig, "drain_seconds": shutdown_delay}})
        loop.call_soon_threadsafe(loop.call_later, shutdown_delay, original, sig, frame)

    server.handle_exit = handle_exit  # type: ignore[method-assign]
    server.run()
    if LOG.sink is not None:
        LOG.sink.flush()


def cpu_count() -> int:
    """The CPUs this process may use: its affinity, and a cgroup CPU quota (a container's limit)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, -(-int(quota) // int(period))))
    return max(1, n)
