"""The HTTPS admission server: starlette on uvicorn (uvloop, httptools).

Endpoints: ``POST /validate``, ``POST /mutate`` (AdmissionReview v1), ``GET /healthz``
(the event loop answers), ``GET /readyz`` (TLS loaded and namespace labels available),
``GET /metrics`` (Prometheus). Bodies over 3 MiB get 413; anything that is not a v1
AdmissionReview gets 400 with the reason. The certificate files are re-read when they
change, so rotation needs no restart; SIGTERM stops accepting connections, fails
readiness and lets in-flight requests finish. Every decision is logged as one JSON line.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
import logging
import os
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from podsec.admission.namespaces import NamespaceLabels
from podsec.admission.review import Decision, Reviewer, ReviewError, parse

MAX_BODY = 3 * 1024 * 1024  # the API server's own request limit
log = logging.getLogger("podsec.webhook")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        return json.dumps(entry, ensure_ascii=False)


_STAMP: list[Any] = [None, ""]


def _now() -> str:
    """The log timestamp, in milliseconds; the date part is formatted once a second."""
    now = time.time()
    second = int(now)
    if _STAMP[0] != second:
        _STAMP[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return f"{_STAMP[1]}.{int(now * 1000) % 1000:03d}Z"


def write_log(msg: str, fields: dict[str, Any]) -> None:
    """One JSON line for an admission decision, without the logging module's per-record cost."""
    if not log.isEnabledFor(logging.INFO):
        return
    stream = getattr(log.handlers[0], "stream", None) if log.handlers else None
    if stream is None:
        log.info(msg, extra={"fields": fields})
        return
    line = orjson.dumps({"time": _now(), "level": "info", "msg": msg, **fields}, option=orjson.OPT_APPEND_NEWLINE)
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:  # the text layer holds nothing: logging's handlers flush every record
        buffer.write(line)
        buffer.flush()
    else:
        stream.write(line.decode())
        stream.flush()


def setup_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


_REQUEST_LABELS = ("endpoint", "operation", "resource", "subresource")
_DECISION_LABELS = ("endpoint", "operation", "resource", "decision", "mode")
_LATENCY_LABELS = ("endpoint", "operation", "resource", "mode")
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics(Collector):
    """Prometheus metrics, counted in plain dicts and exposed through a collector.

    Every update happens on the event loop, and so does every scrape: no locks are needed,
    and counting costs a dict update instead of prometheus_client's locked child objects.
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, ...], int] = {}
        self.decisions: dict[tuple[str, ...], int] = {}
        self.latency: dict[tuple[str, ...], list[float]] = {}  # per-bucket counts (+Inf last), then the sum
        self.bad_requests: dict[tuple[str, ...], int] = {}
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def bad_request(self, status: int) -> None:
        key = (str(status),)
        self.bad_requests[key] = self.bad_requests.get(key, 0) + 1

    def reviewed(
        self, endpoint: str, operation: str, resource: str, subresource: str, verdict: str, mode: str, seconds: float
    ) -> None:
        """Count one answered review: request, decision and latency."""
        request = (endpoint, operation, resource, subresource)
        self.requests[request] = self.requests.get(request, 0) + 1
        decision = (endpoint, operation, resource, verdict, mode)
        self.decisions[decision] = self.decisions.get(decision, 0) + 1
        self.observe(seconds, endpoint, operation, resource, mode)

    def observe(self, seconds: float, *labels: str) -> None:
        counts = self.latency.get(labels)
        if counts is None:
            counts = self.latency[labels] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        families: list[tuple[str, str, tuple[str, ...], dict[tuple[str, ...], int]]] = [
            ("podsec_admission_requests", "Admission reviews received", _REQUEST_LABELS, self.requests),
            ("podsec_admission_decisions", "Admission decisions", _DECISION_LABELS, self.decisions),
            ("podsec_admission_bad_requests", "Requests answered with 4xx", ("reason",), self.bad_requests),
        ]
        for name, doc, names, values in families:
            counter = CounterMetricFamily(name, doc, labels=names)
            for labels, value in values.items():
                counter.add_metric(labels, value)
            yield counter
        histogram = HistogramMetricFamily(
            "podsec_admission_duration_seconds", "Time to answer an admission review", labels=_LATENCY_LABELS
        )
        for labels, counts in self.latency.items():
            cumulative = list(itertools.accumulate(counts[:-1]))
            bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
            histogram.add_metric(labels, list(zip(bounds, cumulative, strict=True)), counts[-1])
        yield histogram


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


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


async def _read(scope: Scope, receive: Receive) -> bytes:
    """The request body, checked: JSON content type, at most MAX_BODY bytes (also when streamed)."""
    ctype, length = b"", None
    for name, value in scope["headers"]:
        if name == b"content-type":
            ctype = value
        elif name == b"content-length":
            length = value
    if ctype != b"application/json":  # the API server's exact header; anything else is parsed
        media = ctype.decode("latin-1").split(";")[0].strip().lower()
        if media != "application/json":
            raise BadRequest(400, f"expected Content-Type application/json, got {media or 'none'}")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise BadRequest(413, f"request body larger than {MAX_BODY} bytes")
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest(400, "client disconnected")
        chunk: bytes = message.get("body", b"")
        parts.append(chunk)
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, f"request body larger than {MAX_BODY} bytes")
        if not message.get("more_body"):
            break
    if not size:
        raise BadRequest(400, "empty request body")
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _decode(raw: bytes) -> Any:
    """The request's JSON; orjson, with the standard library for what orjson refuses but JSON allows
    (integers beyond 64 bits)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, f"malformed JSON: {exc}") from None


async def _send(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
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
        start = time.perf_counter()
        m = state.metrics
        try:
            review = parse(_decode(await _read(scope, receive)))
        except (BadRequest, ReviewError) as exc:
            status, reason = (exc.status, exc.reason) if isinstance(exc, BadRequest) else (400, str(exc))
            m.bad_request(status)
            log.warning("bad request", extra={"fields": {"status": status, "reason": reason}})
            await _send(send, status, json.dumps({"error": reason}).encode())
            return
        operation = str(review.get("operation"))
        resource = str((review.get("resource") or {}).get("resource", ""))
        subresource = str(review.get("subResource") or "")
        known, labels = await state.namespaces.lookup(str(review.get("namespace") or ""))
        if endpoint == "validate":
            body, decision = state.reviewer.review(review, labels, namespace_known=known, today=state.today())
        else:
            body, decision = state.reviewer.mutate(review, labels, namespace_known=known)
        elapsed = time.perf_counter() - start
        verdict = _verdict(decision)
        m.reviewed(endpoint, operation, resource, subresource, verdict, decision.mode, elapsed)
        obj = review.get("object") if isinstance(review.get("object"), dict) else {}
        meta = obj.get("metadata") if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict) else {}
        await _send(send, 200, orjson.dumps(body), close=state.shutting_down)
        write_log(
            "admission review",
            {
                "uid": review["uid"],
                "endpoint": endpoint,
                "operation": operation,
                "resource": resource,
                "subresource": subresource,
                "namespace": review.get("namespace"),
                "name": review.get("name") or (meta or {}).get("generateName"),
                "user": (review.get("userInfo") or {}).get("username"),
                "dryRun": bool(review.get("dryRun")),
                "decision": verdict,
                "mode": decision.mode,
                "reason": decision.reason,
                "ms": int(elapsed * 1e6) / 1000,
            },
        )


_VERDICTS = {"warn": "warn", "mutate": "mutate", "exempt": "exempt", "skip": "skip", "error": "error"}


def _verdict(decision: Decision) -> str:
    return _VERDICTS.get(decision.mode, "allow") if decision.allowed else "deny"


def build_app(state: State) -> Starlette:
    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> Response:
        checks = {
            "tls": state.certs is not None,
            "namespaces": state.namespaces.ready,
            "accepting": not state.shutting_down,
        }
        ok = all(checks.values())
        return JSONResponse({"ready": ok, **checks}, status_code=200 if ok else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.loop = asyncio.get_running_loop()
        await state.namespaces.start()
        reloader = asyncio.create_task(_reload_certs(state)) if state.certs else None
        try:
            yield
        finally:
            state.shutting_down = True
            if reloader:
                reloader.cancel()
            await state.namespaces.stop()

    return Starlette(
        routes=[
            Route("/validate", ReviewEndpoint(state, "validate")),
            Route("/mutate", ReviewEndpoint(state, "mutate")),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


async def _reload_certs(state: State) -> None:
    assert state.certs is not None
    while True:
        await asyncio.sleep(state.reload_interval)
        state.certs.check()


def serve(state: State, *, host: str, port: int, graceful_seconds: int = 25, shutdown_delay: float = 5.0) -> None:
    """Run until SIGTERM/SIGINT, then drain: readiness fails at once, requests are still served for
    ``shutdown_delay`` seconds (Kubernetes removes the endpoint asynchronously, so requests keep
    arriving for a moment), then the listener closes and in-flight requests get ``graceful_seconds``.
    A second signal skips the delay."""
    import uvicorn

    config = uvicorn.Config(
        build_app(state),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=graceful_seconds,
        timeout_keep_alive=30,
    )
    config.load()
    if state.certs is not None:
        config.ssl = state.certs.context  # our context, so certificates can be reloaded into it
    server = uvicorn.Server(config)

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
