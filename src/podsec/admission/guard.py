"""Connection and body limits in front of the ASGI app: what uvicorn does not bound by itself.

* **Connections**: at most ``max_connections`` open TLS connections. At the limit a new one
  closes the longest-idle connection (a keep-alive connection between requests), or, when
  every connection is busy, is closed at once.
* **Slow and idle clients**: a TLS handshake must finish within ``handshake_timeout``; a
  request's headers must be complete within ``header_timeout`` of the connection opening or of
  the request's first byte (slowloris); a connection idle between requests is closed after
  ``idle_timeout``. Headers larger than ``max_header_bytes`` are refused.
* **Bodies**: `BodyBudget` bounds the bytes of request bodies held at once, across all requests.

Every bound is a number of bytes or seconds fixed at start-up, so the server's memory does not
depend on what clients send.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("podsec.webhook")


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int = 512
    handshake_timeout: float = 5.0
    header_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_header_bytes: int = 32 * 1024


class HeaderTooLarge(Exception):
    pass


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above."""

    limits = Limits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False
        self._idle_since = time.monotonic()
        self._header_bytes = 0

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        """Drop the connection now: abort, not close, since a TLS close waits for the peer's
        close_notify (up to 30 s), and a client that stopped reading would hold it open."""
        self._timer = None
        if self.transport is not None:
            self.transport.abort()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        connections = self.server_state.connections
        if len(connections) >= self.limits.max_connections:
            idle = [c for c in connections if isinstance(c, GuardedProtocol) and not c._busy]
            if not idle:
                transport.abort()  # every connection is busy: refuse this one
                return
            min(idle, key=lambda c: c._idle_since)._expire()
        super().connection_made(transport)
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is None:  # refused in connection_made
            return
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._busy = True
        self._header_bytes = 0
        self._arm(self.limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > self.limits.max_header_bytes:
            raise HeaderTooLarge  # httptools reports it as a parser error: uvicorn answers 400 and closes

    def on_headers_complete(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._busy = False
        self._idle_since = time.monotonic()
        if self.transport is not None and not self.transport.is_closing():
            self._arm(self.limits.idle_timeout)


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
