"""The webhook's application: ``/validate`` and ``/mutate`` (`endpoints`, the hot path) and
everything else through starlette: ``/healthz``, ``/readyz``, ``/metrics`` and the lifespan.

A Python module, not compiled with the webhook's hot path (setup.py): starlette tells request
handlers from ASGI apps by ``inspect.isfunction``, which a compiled function is not."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from podsec.admission.endpoints import App, ReviewEndpoint
from podsec.admission.logs import LOG
from podsec.admission.state import State
from podsec.admission.tls import reload_loop

GC_YOUNG_THRESHOLD = 20_000


def build_app(state: State) -> App:
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
        reloader = asyncio.create_task(reload_loop(state.certs, state.reload_interval)) if state.certs else None
        gc.freeze()  # what start-up loaded lives for good: keep it out of every collection
        # A review makes a few hundred containers (the parsed body, the pod view), freed by
        # reference counting when it is answered; the default young-generation threshold (700)
        # ran a collection every few reviews (~6,000 instructions a review, in process). Cyclic
        # garbage waits for at most this many net allocations (a few MB) before a collection.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            state.shutting_down = True
            if reloader:
                reloader.cancel()
            if state.pool is not None:
                await state.pool.stop()
            await state.namespaces.stop()

    rest = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    rest.router.redirect_slashes = False  # a redirect would be built from the client's Host header
    return App({"/validate": ReviewEndpoint(state, "validate"), "/mutate": ReviewEndpoint(state, "mutate")}, rest)
