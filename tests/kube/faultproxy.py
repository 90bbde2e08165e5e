"""A TLS proxy in front of the real API server that injects the faults a real server does not
produce on demand: 410 Gone for a continue token or a watch, 429 throttling, 5xx, and the
server going away (connections dropped). Everything else is passed through unchanged, watches
streamed line by line. Listens on 127.0.0.1 (an ephemeral port), with the API server's own
serving certificate, and talks to the server as ``admin``.

A rule is a function of the request (method, path with query, the number of requests so far)
returning a `Fault` or None (pass it on). Bounded: a test starts one proxy and stops it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.kube import harness


@dataclass(frozen=True)
class Fault:
    status: int = 0  # answer with this status (a Status object), or
    drop: bool = False  # close the connection without an answer, or
    watch_events: int = -1  # pass a watch on, then after this many events send ERROR 410 and end it
    retry_after: str | None = None


Rule = Callable[[str, str, int], Fault | None]


def status_body(code: int, reason: str, message: str) -> bytes:
    return json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                       "reason": reason, "code": code}).encode()  # fmt: skip


REASONS = {410: "Expired", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


class FaultProxy:
    def __init__(self, kube: harness.KubeEnv) -> None:
        self.kube = kube
        self.rules: list[Rule] = []
        self.requests: list[str] = []  # "METHOD path?query" of every request received
        self.streams: set[Any] = set()  # client connections of the watches being passed on
        self.lock = threading.Lock()
        upstream = urlsplit(kube.url)
        self._host, self._port = upstream.hostname or "127.0.0.1", upstream.port or 443
        self._client_tls = kube.ssl_context()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.handle(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        pki = kube.workdir / "pki"
        tls.load_cert_chain(str(pki / "tls.crt"), str(pki / "tls.key"))
        self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self) -> str:
        cert, key = self.kube.client_cert
        return self.kube.kubeconfig_text(cert, key, self.url)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def cut(self) -> None:
        """Drop the connections of every watch being passed on (the server went away)."""
        with self.lock:
            streams = list(self.streams)
        for connection in streams:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append(f"{h.command} {h.path}")
            n = len(self.requests)
            fault = next((f for rule in self.rules if (f := rule(h.command, h.path, n)) is not None), None)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        if fault is not None and fault.drop:
            h.close_connection = True
            h.connection.close()
            return
        if fault is not None and fault.status:
            data = status_body(fault.status, REASONS.get(fault.status, "Error"), "injected by the test proxy")
            h.send_response(fault.status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            if fault.retry_after is not None:
                h.send_header("Retry-After", fault.retry_after)
            h.end_headers()
            h.wfile.write(data)
            return
        conn = http.client.HTTPSConnection(self._host, self._port, context=self._client_tls, timeout=600)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection", "authorization")}
        conn.request(h.command, h.path, body=body, headers=headers)
        response = conn.getresponse()
        h.send_response(response.status)
        chunked = response.getheader("Transfer-Encoding", "").lower() == "chunked"
        for k, v in response.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                h.send_header(k, v)
        if not chunked:
            data = response.read()
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            conn.close()
            return
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        events = 0
        with self.lock:
            self.streams.add(h.connection)
        try:
            while True:
                if fault is not None and 0 <= fault.watch_events <= events:
                    gone = json.loads(status_body(410, "Expired", "too old resource version"))
                    self._chunk(h, json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
                    break
                line = response.readline()
                if not line:
                    break
                self._chunk(h, line)
                events += 1
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            h.close_connection = True
        finally:
            with self.lock:
                self.streams.discard(h.connection)
            conn.close()

    @staticmethod
    def _chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
        h.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        h.wfile.flush()
