"""The HTTPS admission server: starlette on uvicorn (uvloop, httptools). Its concerns live in
their own modules: the review endpoints (`endpoints`), the application and its other routes
(`routes`), TLS (`tls`), settings and shared state
(`state`), metrics (`metrics`), logging (`logs`), connection limits (`guard`), the worker
pool (`pool`); this module runs it all and drains it on shutdown.

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

import contextlib
import logging
import os
import sys
from typing import Any

from podsec.admission.guard import GuardedServer
from podsec.admission.logs import LOG
from podsec.admission.metrics import Metrics
from podsec.admission.routes import build_app
from podsec.admission.state import ServerSettings, State, Today
from podsec.admission.tls import CertReloader

log = logging.getLogger("podsec.webhook")
__all__ = ["CertReloader", "Metrics", "ServerSettings", "State", "Today", "build_app", "serve"]


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
        # said, not guessed: uvicorn guesses from whether __call__ is a coroutine function, which
        # a compiled (mypyc) App's is not to inspect, and would then call it as ASGI 2
        interface="asgi3",
        access_log=False,
        # The client's address and scheme are never used (nor logged), so X-Forwarded-* is not read:
        # uvicorn's proxy-headers middleware would scan every request's headers for nothing.
        proxy_headers=False,
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
