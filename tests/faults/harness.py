"""The fault suite's tools: a real webhook server on 127.0.0.1 (ephemeral port, TLS), good
reviews sent at a steady rate while a fault runs, raw TLS connections for misbehaving
clients, and the server's memory. Every loop is bounded in count and time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from podsec.admission import certs
from tests.admission.payloads import pod, review

CONFIG = """\
webhook:
  namespaces:
    shop: {pod-security.kubernetes.io/enforce: restricted, podsec.io/warn: hardened}
    dev: {pod-security.kubernetes.io/warn: restricted, podsec.io/mutate: "true"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    port: int
    ca: str
    proc: subprocess.Popen[bytes]
    log: pathlib.Path | None
    handles: list[Any] = field(default_factory=list)

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca)

    def rss(self) -> int:
        """Resident memory of the server and its workers, in bytes."""
        total = 0
        pids = [self.proc.pid]
        children = pathlib.Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        for pid in pids:
            try:
                for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for h in self.handles:
            h.close()


def start(tmp: pathlib.Path, *flags: str, config: str = CONFIG, stderr: Any = None) -> Server:
    tls = tmp / "tls"
    if not (tls / "tls.crt").exists():
        certs.generate(str(tls), extra_hosts=("127.0.0.1",))
    (tmp / "podsec.yaml").write_text(config)
    port = free_port()
    log = None
    handles = []
    if stderr is None:
        log = tmp / f"server-{port}.log"
        stderr = log.open("wb")
        handles.append(stderr)
    argv = [sys.executable, "-m", "podsec", "webhook", "serve", "--tls-cert", str(tls / "tls.crt"),
            "--tls-key", str(tls / "tls.key"), "--config", str(tmp / "podsec.yaml"), "--host", "127.0.0.1",
            "--port", str(port), "--shutdown-delay", "0", "--graceful-seconds", "5", *flags]  # fmt: skip
    proc = subprocess.Popen(argv, stderr=stderr, stdout=subprocess.DEVNULL)
    server = Server(port, str(tls / "ca.crt"), proc, log, handles)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text() if log else ''}")
        try:
            status, _ = request(server, "GET", "/readyz", b"", timeout=2)
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("server did not become ready")


def http(method: str, path: str, body: bytes, extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: podsec-webhook.podsec.svc\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def request(server: Server, method: str, path: str, body: bytes, *, timeout: float = 30) -> tuple[int, bytes]:
    """One request on a fresh TLS connection: (status, body)."""
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as raw,
        server.context().wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        s.sendall(http(method, path, body, "Connection: close\r\n"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def post(server: Server, body: object | bytes, path: str = "/validate", timeout: float = 30) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, data = request(server, "POST", path, raw, timeout=timeout)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data


def big_pod(containers: int, *, minimal: bool = False, name: str = "big") -> dict[str, Any]:
    c0: dict[str, Any] = {"name": "c", "image": "i"}
    if not minimal:
        c0 = {**pod()["spec"]["containers"][0], "volumeMounts": []}
    spec = {"containers": [dict(c0, name=f"c{i}") for i in range(containers)]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop"}, "spec": spec}


def api_server_pod(containers: int, *, name: str = "big", namespace: str = "shop") -> dict[str, Any]:
    """A pod of minimal containers as a real kube-apiserver (1.37) sends it to a webhook: every
    container defaulted and the managedFields entry that records them. Measured there: a request
    of 24,000 such containers (0.65 MB) reached the validating webhook as a 7.5 MB review, and the
    3 MiB request of 90,000 as 28 MB (a dry run: etcd stores no pod past about 27,000 of them)."""
    fields = {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {},
              "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}  # fmt: skip
    spec = {
        "containers": [
            {
                "name": f"c{i:x}",
                "image": "i",
                "resources": {},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "Always",
            }
            for i in range(containers)
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
        "schedulerName": "default-scheduler",
        "tolerations": [
            {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            for t in ("not-ready", "unreachable")
        ],
        "priority": 0,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    }
    managed = {
        "manager": "kubectl-create",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2026-11-30T10:16:56Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {"f:containers": {f'k:{{"name":"c{i:x}"}}': fields for i in range(containers)},
                                **{f"f:{k}": {} for k in ("dnsPolicy", "enableServiceLinks", "restartPolicy",
                                   "schedulerName", "securityContext", "terminationGracePeriodSeconds")}}},
    }  # fmt: skip
    meta = {"name": name, "namespace": namespace, "uid": "406ae9bb-56ae-4d12-a6d1-255f72a4c198", "generation": 1,
            "creationTimestamp": "2026-11-30T10:16:56Z", "managedFields": [managed]}  # fmt: skip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


@dataclass
class Load:
    """Good reviews at a steady rate on keep-alive connections, in a thread, until stopped."""

    server: Server
    rate: float = 100.0
    connections: int = 8
    limit_seconds: float = 60.0
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(30)

    async def _run(self) -> None:
        ctx = self.server.context()
        body = json.dumps(review(pod(restricted=True))).encode()
        wire = http("POST", "/validate?timeout=10s", body)
        pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        for _ in range(self.connections):
            pool.put_nowait(await self._connect(ctx))
        start = time.perf_counter()
        tasks = []

        async def one(due: float) -> None:
            reader, writer = await pool.get()
            try:
                writer.write(wire)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
                length = int(
                    next(x for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")).split(b":")[1]
                )
                payload = await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 200") or b'"allowed":true' not in payload:
                    self.failures.append(head.split(b"\r\n")[0].decode() + payload[:200].decode("latin-1"))
                self.latencies.append(time.perf_counter() - due)
                pool.put_nowait((reader, writer))
            except Exception as exc:  # recorded, and the connection replaced
                self.failures.append(repr(exc))
                writer.close()
                pool.put_nowait(await self._connect(ctx))

        i = 0
        while not self._stop.is_set() and time.perf_counter() - start < self.limit_seconds:
            due = start + i / self.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due)))
            i += 1
        await asyncio.gather(*tasks)
        while not pool.empty():
            _, writer = pool.get_nowait()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _connect(self, ctx: ssl.SSLContext) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.server.port, ssl=ctx, server_hostname="127.0.0.1")

    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("inf")


def log_lines(server: Server) -> Iterator[dict[str, Any]]:
    assert server.log is not None
    for line in server.log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            yield json.loads(line)


def logged(server: Server, prefix: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The log entries whose message starts with ``prefix``, waiting for the first to be written:
    the server logs through a queue (logging never blocks a review), so a line may follow the answer."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in log_lines(server) if e["msg"].startswith(prefix)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def metric(server: Server, name: str) -> float:
    _, data = request(server, "GET", "/metrics", b"")
    total = 0.0
    for line in data.decode().splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total
