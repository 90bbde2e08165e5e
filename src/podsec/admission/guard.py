"""Connection and body limits in front of the ASGI app: what uvicorn does not bound by itself.

* **Connections**: at most ``max_connections`` open TLS connections. At the limit a new one
  closes the longest-idle connection (a keep-alive connection between requests), or, when
  every connection is busy, is closed at once.
* **Slow and idle clients**: a TLS handshake must finish within ``handshake_timeout``; a
  request, headers and body, must arrive within ``header_timeout`` of the connection opening
  or of the request's first byte (slowloris, slow bodies; checked every second, so up to a
  second later); so must an answer be taken by the client (one that sends pipelined requests
  and reads nothing would hold a busy connection for good); a connection idle between requests
  is closed after ``idle_timeout`` (uvicorn's keep-alive timeout). Headers larger than
  ``max_header_bytes`` drop the connection, and so do more than ``max_pipelined`` requests
  sent ahead of their answers.
* **Bodies**: `BodyBudget` bounds the bytes of request bodies held at once, across all requests.

Every bound is a number of bytes or seconds fixed at start-up, so the server's memory does not
depend on what clients send.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("podsec.webhook")


class Pipelined(Exception):
    """A client queued more pipelined requests than ``max_pipelined``."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int = 512
    # Requests a client may send ahead of its answers: each queued one holds its headers, scope
    # and body until its turn, and a client that pipelines without reading held 1.2 MB a
    # connection (200 connections: 240 MB). Go's HTTP client, the API server's, never pipelines.
    max_pipelined: int = 8
    handshake_timeout: float = 5.0
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_header_bytes: int = 32 * 1024


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above, at the cost of a few attribute writes
    per request: request timing is checked by one sweep a second over all connections
    (`sweep`), not by a timer per request, and header bytes are counted per received chunk."""

    limits = Limits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened = 0.0
        self.waiting_since: float | None = None  # a request (or the first one) is due since then
        self.header_bytes = 0  # bytes received since the request began, while its headers are coming
        self.unread_since: float | None = None  # answers have waited for the client to read them since then

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        connections = self.server_state.connections
        if len(connections) >= self.limits.max_connections:
            idle = [c for c in connections if isinstance(c, GuardedProtocol) and c.idle]
            if not idle:
                transport.abort()  # every connection is busy: refuse this one
                return
            min(idle, key=lambda c: c.opened).drop()
        super().connection_made(transport)
        self.opened = self.waiting_since = self.loop.time()

    @property
    def idle(self) -> bool:
        """Between requests (or before the first): nothing is being answered on it."""
        cycle = self.cycle
        return cycle is None or cycle.response_complete

    def drop(self) -> None:
        """Abort, not close: a TLS close waits for the peer's close_notify (up to 30 s), and a
        client that stopped reading would hold the connection open meanwhile."""
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:  # refused in connection_made
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        cycle = self.cycle  # a new cycle starts when a request's headers are complete
        if cycle is None or cycle.response_complete:  # so its headers are still coming
            self.header_bytes += len(data)
            if self.header_bytes > self.limits.max_header_bytes:
                log.warning("connection dropped: request headers too large")
                self.drop()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if len(self.pipeline) > self.limits.max_pipelined:  # the API server's client never pipelines
            log.warning("connection dropped: too many pipelined requests")
            self.drop()
            raise Pipelined  # stops the parser: the rest of what was received is not read

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.header_bytes = 0
        if self.waiting_since is None:  # the first request's time runs from the connection's start
            self.waiting_since = self.loop.time()

    def on_message_complete(self) -> None:
        self.waiting_since = None  # the whole request arrived in time
        super().on_message_complete()


def sweep(connections: Iterable[Any], limits: Limits, now: float) -> int:
    """Drop every connection whose request (headers and body) or first request is overdue, or
    whose client has left answers unread for as long: writing paused (the next answer waits for
    the buffers to drain), or closing (a TLS close waits until what is buffered has been sent).
    A client sending pipelined requests and reading nothing kept its connection, and the answers
    buffered for it, far past the idle timeout."""
    dropped = 0
    for c in list(connections):
        if not isinstance(c, GuardedProtocol):
            continue
        since = c.waiting_since
        transport = c.transport
        if transport is not None and (transport.is_closing() or c.flow.write_paused):
            if c.unread_since is None:
                c.unread_since = now
            elif since is None or c.unread_since < since:
                since = c.unread_since
        else:
            c.unread_since = None
        if since is not None and now - since > limits.header_timeout:
            c.drop()
            dropped += 1
    return dropped


class GuardedServer(uvicorn.Server):
    """uvicorn's server, listening with a TLS handshake timeout and the guarded protocol."""

    limits = Limits()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(3)
        config = self.config
        limits = self.limits
        protocol: type[GuardedProtocol] = type("Guarded", (GuardedProtocol,), {"limits": limits})

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            state = self.lifespan.state
            return protocol(config=config, server_state=self.server_state, app_state=state, _loop=_loop)

        loop = asyncio.get_running_loop()
        try:
            server = await loop.create_server(
                create_protocol,
                host=config.host,
                port=config.port,
                ssl=config.ssl,
                backlog=config.backlog,
                ssl_handshake_timeout=limits.handshake_timeout if config.ssl else None,
            )
        except OSError as exc:
            log.error("cannot listen", extra={"fields": {"error": str(exc)}})
            await self.lifespan.shutdown()
            sys.exit(3)
        self.servers = [server]
        assert server.sockets is not None
        port = server.sockets[0].getsockname()[1]
        log.info("listening", extra={"fields": {"host": config.host, "port": port, "tls": bool(config.ssl)}})
        self.started = True
        self._sweeper = asyncio.create_task(self._sweep())

    async def _sweep(self) -> None:
        interval = min(1.0, self.limits.header_timeout / 4)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            sweep(self.server_state.connections, self.limits, loop.time())


class BodyBudget:
    """The bytes of request bodies held at once, across every request: a request that would
    pass ``limit`` is refused (503 with Retry-After) instead of growing memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used -= n
