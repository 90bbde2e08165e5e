"""A real server on 127.0.0.1 over TLS, driven by an HTTP client: decisions, bad requests,
metrics and logs, certificate rotation during traffic, SIGTERM during traffic."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import jsonpatch
import pytest

from podsec.admission import certs
from tests.admission.payloads import pod, review

CONFIG = """\
webhook:
  namespaces:
    shop: {pod-security.kubernetes.io/enforce: restricted}
    dev: {pod-security.kubernetes.io/warn: restricted, podsec.io/mutate: "true"}
"""


@dataclass
class Server:
    url: str
    ca: str
    tls_dir: pathlib.Path
    proc: subprocess.Popen[bytes]
    log: pathlib.Path
    handle: object = None

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=self.ca), timeout=10, **kw)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp_path: pathlib.Path) -> Server:
    tls = tmp_path / "tls"
    certs.generate(str(tls), extra_hosts=("127.0.0.1", "localhost"))
    (tmp_path / "podsec.yaml").write_text(CONFIG)
    port = free_port()
    log = tmp_path / "server.log"
    handle = log.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "podsec", "webhook", "serve", "--tls-cert", str(tls / "tls.crt"), "--tls-key", str(tls / "tls.key"),
         "--config", str(tmp_path / "podsec.yaml"), "--host", "127.0.0.1", "--port", str(port), "--cert-reload-seconds", "0.2",
         "--graceful-seconds", "10", "--shutdown-delay", "1"],
        stderr=handle,
    )  # fmt: skip
    server = Server(f"https://127.0.0.1:{port}", str(tls / "ca.crt"), tls, proc, log, handle)
    deadline = time.monotonic() + 20
    with server.client() as c:
        while True:
            try:
                if c.get("/readyz").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                handle.close()
                raise RuntimeError(f"server did not start: {log.read_text()}")
            time.sleep(0.05)


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[Server]:
    s = start(tmp_path)
    try:
        yield s
    finally:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
            s.proc.wait(20)
        s.handle.close()  # type: ignore[attr-defined]


def post(c: httpx.Client, path: str, body: object, **kw: object) -> httpx.Response:
    return c.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"}, **kw)  # type: ignore[arg-type]


def test_decisions_over_tls(server: Server) -> None:
    with server.client() as c:
        deny = post(c, "/validate", review(pod()))
        assert deny.status_code == 200
        r = deny.json()["response"]
        assert r["allowed"] is False and r["status"]["message"].startswith(
            'pods is forbidden: violates PodSecurity "restricted:latest"'
        )
        allow = post(c, "/validate", review(pod(restricted=True))).json()["response"]
        assert allow["allowed"] is True
        warn = post(c, "/validate", review(pod(privileged=True), namespace="dev")).json()["response"]
        assert warn["allowed"] is True and warn["warnings"][0].startswith(
            'would violate PodSecurity "restricted:latest"'
        )
        body = review(pod(), namespace="dev")
        mutate = post(c, "/mutate", body).json()["response"]
        ops = json.loads(base64.b64decode(mutate["patch"]))
        patched = jsonpatch.apply_patch(body["request"]["object"], ops)
        assert patched["spec"]["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
        assert mutate["uid"] == body["request"]["uid"]


def test_bad_requests(server: Server) -> None:
    with server.client() as c:
        assert (
            c.post("/validate", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
        )
        assert c.post("/validate", content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 400
        assert c.post("/validate", content=b"", headers={"Content-Type": "application/json"}).status_code == 400
        wrong = review(pod())
        wrong["apiVersion"] = "admission.k8s.io/v1beta1"
        r = post(c, "/validate", wrong)
        assert r.status_code == 400 and "expected an admission.k8s.io/v1 AdmissionReview" in r.json()["error"]
        big = review(pod())
        big["request"]["object"]["metadata"]["annotations"] = {"x": "y" * (17 * 1024 * 1024)}
        assert post(c, "/validate", big).status_code == 413
    with server.client() as c:  # 413 closes the connection (the rest of that body is not read)
        chunks = (b"x" * 65536 for _ in range(270))  # no Content-Length: the limit holds for streamed bodies too
        assert c.post("/validate", content=chunks, headers={"Content-Type": "application/json"}).status_code == 413
        assert c.get("/validate").status_code == 405
        assert c.get("/healthz").text == "ok"


def test_metrics_and_json_logs(server: Server) -> None:
    with server.client() as c:
        post(c, "/validate", review(pod()))
        post(c, "/validate", review(pod(restricted=True)))
        text = c.get("/metrics").text
    assert (
        'podsec_admission_decisions_total{decision="deny",endpoint="validate",mode="enforce",operation="CREATE",resource="pods"} 1.0'
        in text
    )
    assert (
        'podsec_admission_duration_seconds_bucket{endpoint="validate",le="0.005",mode="enforce",operation="CREATE",resource="pods"}'
        in text
    )
    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(20)
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    reviews = [entry for entry in lines if entry["msg"] == "admission review"]
    assert [e["decision"] for e in reviews] == ["deny", "allow"]
    assert all(e["uid"] and e["resource"] == "pods" and e["name"] == "web-7d4b9c8f6d-" for e in reviews)


def _serial(server: Server) -> int:
    host, port = server.url.removeprefix("https://").split(":")
    ctx = ssl.create_default_context(cafile=server.ca)
    with socket.create_connection((host, int(port))) as sock, ctx.wrap_socket(sock, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509

    assert der is not None
    return int(x509.load_der_x509_certificate(der).serial_number)


def _hammer(server: Server, stop: threading.Event, results: list[object]) -> None:
    body = review(pod(restricted=True))
    while not stop.is_set():
        try:
            with server.client(http2=False) as c:  # a new connection each time: new handshakes see new certificates
                results.append(post(c, "/validate", body).status_code)
        except Exception as exc:  # recorded and asserted on
            results.append(exc)


def test_certificate_rotation_during_traffic(server: Server) -> None:
    before = _serial(server)
    stop, results = threading.Event(), []  # type: ignore[var-annotated]
    workers = [threading.Thread(target=_hammer, args=(server, stop, results)) for _ in range(3)]
    for w in workers:
        w.start()
    time.sleep(0.3)
    certs.generate(str(server.tls_dir), extra_hosts=("127.0.0.1", "localhost"), ca=certs.load_ca(str(server.tls_dir)))
    deadline = time.monotonic() + 10
    while _serial(server) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    stop.set()
    for w in workers:
        w.join()
    assert _serial(server) != before
    assert len(results) > 10 and all(r == 200 for r in results), [r for r in results if r != 200][:3]


def test_sigterm_answers_in_flight_requests(server: Server) -> None:
    big = review(pod(restricted=True))
    big["request"]["object"]["metadata"]["annotations"] = {
        f"k{i}": "v" * 2000 for i in range(500)
    }  # ~1 MB: slow enough
    payload = json.dumps(big).encode()
    outcomes: list[object] = []
    started = threading.Barrier(9)

    def one() -> None:
        with server.client() as c:
            started.wait()
            try:
                r = c.post("/validate", content=payload, headers={"Content-Type": "application/json"})
                outcomes.append(r.status_code if r.json()["response"]["uid"] == big["request"]["uid"] else "bad uid")
            except httpx.ConnectError as exc:  # refused before it was sent: not in flight, not lost
                outcomes.append(("refused", str(exc)))
            except Exception as exc:  # a request lost mid-flight: what this test is for
                outcomes.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.01)
    server.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(30)
    assert server.proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
    answered = [o for o in outcomes if o == 200]
    lost = [o for o in outcomes if o != 200 and not (isinstance(o, tuple) and o[0] == "refused")]
    assert not lost, lost
    assert answered, outcomes
    assert "shutting down" in server.log.read_text()


def test_sigterm_fails_readiness_and_keeps_serving_while_the_endpoint_is_removed(server: Server) -> None:
    with server.client() as c:
        assert c.get("/readyz").status_code == 200
        server.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while c.get("/readyz").status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert c.get("/readyz").json()["accepting"] is False
        r = c.post("/validate", json=review(pod()))  # still answered during the drain, and told to reconnect
        assert r.status_code == 200 and r.headers["connection"] == "close"
    with server.client() as c:  # a new connection during the drain is served too
        assert c.post("/validate", json=review(pod())).json()["response"]["allowed"] is False
    assert server.proc.wait(30) in (0, -signal.SIGTERM)
    assert '"drain_seconds":1.0' in server.log.read_text().replace(" ", "")


def test_server_refuses_to_start_without_certificates(tmp_path: pathlib.Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "podsec", "webhook", "serve", "--tls-cert", str(tmp_path / "no.crt"), "--tls-key", str(tmp_path / "no.key")],
        capture_output=True, text=True, timeout=30, env={**os.environ},
    )  # fmt: skip
    assert out.returncode == 2 and "cannot load the TLS certificate" in out.stderr


def test_a_half_written_pair_is_not_loaded(tmp_path: pathlib.Path) -> None:
    from podsec.admission.server import CertReloader

    first = tmp_path / "a"
    certs.generate(str(first), extra_hosts=("127.0.0.1",))
    reloader = CertReloader(str(first / "tls.crt"), str(first / "tls.key"))
    second = tmp_path / "b"
    certs.generate(str(second), extra_hosts=("127.0.0.1",))
    (first / "tls.crt").write_bytes((second / "tls.crt").read_bytes())  # new certificate, old key: mid-rotation
    assert reloader.check() is False and reloader.reloads == 0
    (first / "tls.key").write_bytes((second / "tls.key").read_bytes())
    assert reloader.check() is True and reloader.reloads == 1
