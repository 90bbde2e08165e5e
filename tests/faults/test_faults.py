"""The fault suite (issue 12): a real server on 127.0.0.1, attacked one way at a time while good
reviews keep coming. Each fault is bounded in requests and seconds. Wall-clock targets (p99)
are measured by benchmarks/webhook_bench.py; here the bounds are generous, the behaviour exact:
every good review answered, every bad request a short 4xx, every late review an explicit
answer, memory and metrics within fixed bounds."""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import gzip
import json
import pathlib
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from podsec.admission.server import ServerSettings
from tests.admission.payloads import pod, review
from tests.faults.harness import Load, Server, api_server_pod, big_pod, http, logged, metric, post, request, start

MiB = 1024 * 1024
BOUND = ServerSettings(workers=2).memory_bound()  # the fault server's settings: what the README documents


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start(
        tmp_path_factory.mktemp("faults"),
        "--workers", "2", "--header-timeout", "1", "--idle-timeout", "2", "--handshake-timeout", "1",
        "--max-connections", "300",
        "--review-deadline", "60",  # a shared VM: the largest pod takes 3-6 s here, far more under load (default 8)
    )  # fmt: skip
    yield s
    s.stop()


def _concurrently(n: int, fn: Any) -> list[Any]:
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, range(n)))


# -- stall -----------------------------------------------------------------------------------


def test_eight_huge_reviews_do_not_stall_good_ones(server: Server) -> None:
    body = json.dumps(review(big_pod(10_000))).encode()  # 10,000 defaulted containers, ~2 MB
    with Load(server, rate=100) as load:
        time.sleep(0.5)
        answers = _concurrently(8, lambda _: post(server, body, timeout=60))
        time.sleep(0.5)
    for status, answer in answers:
        assert status == 200
        r = answer["response"]
        assert r["allowed"] is False and r["status"]["code"] == 403  # evaluated, not cut off
        assert r["status"]["message"].startswith('pods "big" is forbidden: violates PodSecurity "restricted:latest"')
        assert len(r["status"]["message"]) <= 4096
    assert load.failures == []
    assert len(load.latencies) >= 50
    print(f"good reviews during the stall: {len(load.latencies)}, p99 {load.p99() * 1000:.1f} ms")
    assert load.p99() < 2.0  # the 50 ms target is measured by the benchmark; this is the no-stall bound


def test_the_largest_pod_is_answered_within_the_deadline(server: Server) -> None:
    body = json.dumps(review(big_pod(100_000, minimal=True))).encode()  # 3 MiB, 100,000 containers
    assert 2.9 * MiB < len(body) < 3.5 * MiB
    t = time.monotonic()
    status, answer = post(server, body, timeout=60)
    assert status == 200 and answer["response"]["status"]["code"] == 403, answer
    print(f"100,000 containers answered in {time.monotonic() - t:.2f} s")


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One worker, one queue place, a half-second deadline: every big review is late."""
    s = start(tmp_path_factory.mktemp("strict"), "--workers", "1", "--queue", "1", "--review-deadline", "0.5")
    yield s
    s.stop()


def test_a_late_review_gets_the_failure_mode_answer_and_its_worker_is_replaced(strict: Server) -> None:
    body = json.dumps(review(big_pod(100_000, minimal=True))).encode()
    t = time.monotonic()
    status, answer = post(strict, body)
    elapsed = time.monotonic() - t
    r = answer["response"]
    assert status == 200 and r["allowed"] is False and r["uid"] == json.loads(body)["request"]["uid"]
    assert r["status"]["code"] == 504 and "deadline" in r["status"]["message"]
    assert r["auditAnnotations"]["unreviewed"].startswith("the review did not finish within its deadline")
    assert elapsed < 3.0
    notes = logged(strict, "admission review not finished")
    assert notes and notes[-1]["reason"] == "deadline" and notes[-1]["decision"] == "deny"
    deadline = time.monotonic() + 20
    while metric(strict, "podsec_webhook_worker_restarts") < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metric(strict, "podsec_webhook_worker_restarts") >= 1
    small = json.dumps(review(big_pod(100))).encode()  # more containers than are answered inline
    deadline = time.monotonic() + 20
    while True:  # the replacement worker starts in well under the bound
        status, answer = post(strict, small)
        if answer["response"]["status"]["code"] == 403 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer["response"]["status"]["code"] == 403


def test_a_full_queue_is_answered_at_once(strict: Server) -> None:
    body = json.dumps(review(big_pod(100_000, minimal=True))).encode()
    answers = _concurrently(4, lambda _: post(strict, body))
    codes = sorted(a["response"]["status"]["code"] for _, a in answers)
    assert 503 in codes and set(codes) <= {503, 504}, codes  # one runs, one waits, the rest: overload
    assert metric(strict, 'podsec_admission_unreviewed_total{endpoint="validate",reason="overload"}') >= 1


def test_failure_mode_allow_admits_with_a_warning_and_an_audit_annotation(tmp_path: pathlib.Path) -> None:
    config = (
        "webhook:\n  failureMode: allow\n  namespaces:\n    shop: {pod-security.kubernetes.io/enforce: restricted}\n"
    )
    s = start(tmp_path, "--workers", "1", "--review-deadline", "0.3", config=config)
    try:
        status, answer = post(s, review(big_pod(100_000, minimal=True)))
        r = answer["response"]
        assert status == 200 and r["allowed"] is True
        assert r["warnings"][0].startswith("podsec: not reviewed: the review did not finish within its deadline")
        assert "unreviewed" in r["auditAnnotations"]
    finally:
        s.stop()


# -- memory ----------------------------------------------------------------------------------


def test_distinct_huge_pods_leave_memory_bounded(server: Server) -> None:
    bodies = [json.dumps(review(big_pod(10_000, name=f"big-{i}"))).encode() for i in range(12)]
    for i in range(12):
        bodies[i] = bodies[i].replace(b'"registry.example/web:1.0"', f'"registry.example/web:{i}"'.encode())
    before = server.rss()
    answers = _concurrently(4, lambda i: [post(server, b, timeout=60)[0] for b in bodies[i::4]])
    assert all(s == 200 for batch in answers for s in batch)
    after = server.rss()
    cache = metric(server, "podsec_webhook_cache_bytes")
    print(f"RSS before {before / MiB:.0f} MiB, after 12 distinct 10,000-container pods {after / MiB:.0f} MiB")
    assert cache <= 16 * MiB
    assert after < BOUND


def test_a_pod_too_big_for_a_workers_memory_gets_the_failure_mode_not_an_oom(server: Server) -> None:
    body = json.dumps(review(big_pod(470_000, minimal=True))).encode()  # just under the 16 MiB body limit
    assert 15.5 * MiB < len(body) < 16 * MiB
    peak = 0
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        sent = pool.submit(post, server, body, "/validate", 60)
        while not sent.done():
            peak = max(peak, server.rss())
            time.sleep(0.05)
        status, answer = sent.result()
    r = answer["response"]
    assert status == 200 and r["allowed"] is False and r["status"]["code"] in (403, 500), r["status"]
    print(f"peak RSS with a 470,000-container pod: {peak / MiB:.0f} MiB (bound {BOUND / MiB:.0f} MiB)")
    assert peak < BOUND
    assert post(server, review(big_pod(100)))[1]["response"]["status"]["code"] == 403


def test_an_update_of_the_largest_pod_etcd_stores_is_reviewed_as_the_api_server_sends_it(server: Server) -> None:
    """26,000 minimal containers (about the most etcd stores) come with their defaults and
    managedFields: an UPDATE carries two such objects, 15 MiB, which the old 8 MiB limit refused
    (413: with failurePolicy Fail, a legitimate update denied)."""
    new = api_server_pod(26_000)
    old = json.loads(json.dumps(new))
    old["spec"]["containers"][0]["image"] = "j"
    body = json.dumps(review(new, operation="UPDATE", old=old), separators=(",", ":")).encode()
    assert 14 * MiB < len(body) < 16 * MiB
    status, answer = post(server, body, timeout=60)
    assert status == 200, answer
    r = answer["response"]
    assert r["allowed"] is False and r["status"]["code"] == 403, r["status"]  # evaluated, not cut off


def test_a_worker_out_of_memory_answers_by_the_failure_mode_not_400(tmp_path: pathlib.Path) -> None:
    """orjson reserves about twelve times a body's size before parsing it: under a worker's heap
    limit it said 'malformed JSON: Not enough memory' (a 400, blaming the client) or crashed the
    worker (SIGSEGV). Out of memory is the failure mode's answer, and the worker lives on."""
    frame = struct.Struct(">II")
    body = json.dumps(review(api_server_pod(26_000)), separators=(",", ":")).encode()  # 7.8 MiB
    argv = [sys.executable, "-m", "podsec.admission.worker", "--memory-bytes", str(64 * MiB)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None

    def read() -> dict[str, Any]:
        assert proc.stdout is not None
        head = proc.stdout.read(frame.size)
        assert len(head) == frame.size, f"the worker died: {proc.wait()}"
        hlen, blen = frame.unpack(head)
        header: dict[str, Any] = json.loads(proc.stdout.read(hlen))
        proc.stdout.read(blen)
        return header

    try:
        assert read()["t"] == "ready"
        for i in (1, 2):  # and again: the worker is still there
            job = json.dumps({"t": "job", "id": i, "endpoint": "validate", "today": "2026-11-30", "known": True,
                              "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}).encode()  # fmt: skip
            proc.stdin.write(frame.pack(len(job), len(body)) + job + body)
            proc.stdin.flush()
            reply = read()
            assert reply["t"] == "error" and "memory" in reply["reason"].lower(), reply
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def test_many_clients_holding_big_bodies_are_refused_not_buffered(server: Server) -> None:
    ctx = server.context()
    held: list[ssl.SSLSocket] = []
    statuses: list[int] = []
    before = server.rss()
    try:
        for _ in range(40):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            s.sendall(
                http("POST", "/validate", b"")[:-2].replace(b"Content-Length: 0", f"Content-Length: {3 * MiB}".encode())
                + b"\r\n"
            )
            s.sendall(b"{" + b" " * (256 * 1024))  # part of the body, and then nothing
            held.append(s)
        time.sleep(0.5)
        for s in held:
            s.settimeout(0.2)
            try:
                data = s.recv(4096)
                if data:
                    statuses.append(int(data.split()[1]))
            except (TimeoutError, OSError):
                pass
        during = server.rss()
    finally:
        for s in held:
            s.close()
    assert statuses and set(statuses) == {503}  # beyond the 32 MiB budget: refused at once, with Retry-After
    assert len(statuses) >= 40 - 16
    assert during - before < 100 * MiB
    assert post(server, review(pod(restricted=True)))[0] == 200


# -- slow and idle clients ---------------------------------------------------------------------


def test_slowloris_and_idle_connections_are_closed(server: Server) -> None:
    ctx = server.context()
    slow = []
    for _ in range(100):
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
    idle = []
    for _ in range(100):
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        idle.append(ctx.wrap_socket(raw, server_hostname="127.0.0.1"))
    naked = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(50)]  # no TLS at all
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:  # one header byte a second: slowloris
        for s in slow:
            with contextlib.suppress(OSError):
                s.sendall(b"X")
        time.sleep(1)
    closed = 0
    for s in (*slow, *idle, *naked):
        s.settimeout(2)
        try:
            closed += s.recv(1) == b""
        except ssl.SSLError:
            closed += 1
        except OSError:
            closed += 1
        s.close()
    assert closed == 250
    assert post(server, review(pod(restricted=True)))[0] == 200


def test_upgrade_requests_do_not_escape_the_connection_limits(server: Server) -> None:
    """uvicorn[standard] brings a WebSocket library: an Upgrade request used to hand the connection
    to it, out of the guard's reach (no header or idle timeout, never evicted), so a few hundred
    of them locked every other client out, for good."""
    ctx = server.context()
    held = []
    upgrades = [
        b"GET /validate HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        http("POST", "/validate", b"{}", "Connection: Upgrade\r\nUpgrade: websocket\r\n"),
    ]
    try:
        for i in range(20):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            s.sendall(upgrades[i % 2])
            held.append(s)
        closed = 0
        deadline = time.monotonic() + 8  # the fixture's idle and header timeouts are 2 s and 1 s
        for s in held:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while s.recv(4096):  # whatever answer, then the end of the connection
                    pass
                closed += 1
            except TimeoutError:  # still open
                pass
            except OSError:  # reset: closed
                closed += 1
        assert closed == 20
    finally:
        for s in held:
            s.close()
    assert post(server, review(pod(restricted=True)))[0] == 200


@pytest.mark.parametrize("closing", [False, True])
def test_clients_that_stop_reading_answers_are_dropped(server: Server, closing: bool) -> None:
    """Pipelined reviews from a client that never reads: the answers fill its connection's
    buffers, the next answer waits for them to drain, and the connection stayed busy for good
    (never idle, so never timed out nor evicted: 20 of them were all open after 40 s; a few
    hundred would lock every other client out). An answer not taken within the header timeout
    drops the connection. Within the pipelining limit (8): mutations of 500 containers, answers
    of ~90 kB each, more than the buffers hold. Or one answer and ``Connection: close``: a TLS
    close waits until what is buffered has been sent (asyncio gives up after 30 s)."""
    ctx = server.context()
    p = big_pod(500, name="unread")  # 501 operations: a patch just within MAX_PATCH_OPS
    p["metadata"]["namespace"] = "dev"
    one = http(
        "POST", "/mutate", json.dumps(review(p, namespace="dev")).encode(), "Connection: close\r\n" if closing else ""
    )
    held = []
    try:
        for _ in range(10):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            s.settimeout(5)
            with contextlib.suppress(OSError):
                s.sendall(one if closing else one * 6)  # 6 reviews ahead of their answers: within max_pipelined
            held.append(s)
        deadline = time.monotonic() + 15
        while metric(server, "podsec_webhook_connections") > 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert metric(server, "podsec_webhook_connections") <= 1  # the one asking
    finally:
        for s in held:
            s.close()
    status, answer = post(server, review(pod(restricted=True)))
    assert status == 200, answer


def test_pipelined_requests_are_answered_in_order_but_not_queued_without_bound(server: Server) -> None:
    ctx = server.context()
    bodies = [review(pod(f"web-{i}", restricted=True)) for i in range(3)]
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        s.sendall(b"".join(http("POST", "/validate", json.dumps(b).encode()) for b in bodies))
        reader = s.makefile("rb")
        for b in bodies:  # three answers, in order
            assert reader.readline().startswith(b"HTTP/1.1 200")
            length = 0
            while (line := reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length"):
                    length = int(line.split(b":")[1])
            assert json.loads(reader.read(length))["response"]["uid"] == b["request"]["uid"]
    # Hundreds of requests ahead of their answers, and nothing read: each queued request held its
    # headers and body (1.2 MB a connection); past 8 the connection is dropped.
    one = http("POST", "/validate", json.dumps(review(pod(restricted=True))).encode())
    held = []
    before = server.rss()
    try:
        for _ in range(50):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            c.settimeout(0.5)
            with contextlib.suppress(OSError):
                c.sendall(one * 300)
            held.append(c)
        grown = server.rss() - before
    finally:
        for c in held:
            c.close()
    print(f"50 clients pipelining 300 reviews each, reading nothing: {grown / MiB:.1f} MiB")
    assert grown < 20 * MiB


def test_connections_beyond_the_limit_evict_idle_ones(server: Server) -> None:
    ctx = server.context()
    conns = []
    try:
        for _ in range(350):  # the limit is 300
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            conns.append(ctx.wrap_socket(raw, server_hostname="127.0.0.1"))
        assert metric(server, "podsec_webhook_connections") <= 300
        assert post(server, review(pod(restricted=True)))[0] == 200  # a new client is served
    finally:
        for s in conns:
            s.close()


# -- echo and cardinality ------------------------------------------------------------------------


def test_client_input_is_not_echoed_in_bulk(server: Server) -> None:
    p = pod("web-0")
    p["spec"]["containers"][0]["name"] = "n" * (int(2.5 * MiB))
    status, answer = post(server, review(p))
    assert status == 200 and len(json.dumps(answer)) < 10_000
    size = server.log.stat().st_size if server.log else 0
    for _ in range(20):
        status, answer = post(server, {"apiVersion": "x" * (3 * MiB), "kind": "AdmissionReview"})
        assert status == 400 and len(json.dumps(answer)) < 1_000
    time.sleep(0.3)
    grown = (server.log.stat().st_size if server.log else 0) - size
    assert grown < 100_000


def test_metric_labels_come_from_fixed_sets(server: Server) -> None:
    ctx = server.context()
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        reader = s.makefile("rb")
        for i in range(3000):
            body = review(pod(restricted=True))
            body["request"]["resource"]["resource"] = f"things{i}"
            body["request"]["subResource"] = f"sub{i}"
            s.sendall(http("POST", "/validate", json.dumps(body).encode()))
            length = 0
            while (line := reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length"):
                    length = int(line.split(b":")[1])
            reader.read(length)
    _, page = request(server, "GET", "/metrics", b"")
    assert b"things" not in page and b"sub1" not in page
    assert len(page) < 40_000


# -- bypass, statuses, logging ------------------------------------------------------------------


def test_a_pod_cannot_exempt_itself(server: Server) -> None:
    p = pod(privileged=True)
    p["spec"].update(hostPID=True, hostNetwork=True)
    p["metadata"]["annotations"] = {"podsec.io/exempt": "*", "podsec.io/exempt-reason": "trust me"}
    _, answer = post(server, review(p))
    r = answer["response"]
    assert r["allowed"] is False and "annotation exemptions are off" in r["status"]["message"]


def _surrogate(field: str) -> bytes:
    body = review(pod(restricted=True))
    body["request"][field] = "MARK"
    return json.dumps(body).encode().replace(b'"MARK"', b'"\\ud800"')


_WRONG_TYPES = [  # a type the API server never sends, anywhere podsec reads
    (("userInfo", "username"), ["system:admin"]),
    (("userInfo", "username"), {"a": 1}),
    (("userInfo",), "alice"),
    (("object",), 7),
    (("object",), "a pod"),
    (("object",), [{"kind": "Pod"}]),
    (("oldObject",), "a pod"),
]


def _wrong_type(path: tuple[str, ...], value: object) -> bytes:
    body = json.loads(json.dumps(review(pod(restricted=True))))  # review() shares userInfo between calls
    where = body["request"]
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":' * 1000 + b"1" + b"}" * 1000,
        b"[" * 1000 + b"]" * 1000,
        json.dumps(review(pod())).encode().replace(b'"spec": {', b'"spec": {"x": ' + b"[" * 600 + b"]" * 600 + b", "),
        _surrogate("uid"),
        _surrogate("name"),
        b"\xff\xfe{}",
        b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": [], "operation": "CREATE"}}',
        *(_wrong_type(path, value) for path, value in _WRONG_TYPES),
    ],
)
def test_bad_bodies_are_400_not_500(server: Server, body: bytes) -> None:
    status, answer = post(server, body)
    assert status == 400 and "error" in answer


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "gzip, identity"])
def test_compressed_bodies_are_refused_not_inflated(server: Server, encoding: str) -> None:
    """The API server never compresses a review; a body that says it is compressed is not read
    as JSON (even when it is JSON) and never inflated (a bomb would be bounded by nothing)."""
    body = json.dumps(review(pod(restricted=True))).encode()
    wire = http("POST", "/validate", gzip.compress(body) if encoding == "gzip" else body,
                f"Content-Encoding: {encoding}\r\nConnection: close\r\n")  # fmt: skip
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        server.context().wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        s.sendall(wire)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 415"), data[:200]
    assert b"Content-Encoding" in data


def test_no_redirect_from_client_input(server: Server) -> None:
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        server.context().wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        s.sendall(b"POST /validate/ HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.1 404") and b"location" not in data.lower()


def test_an_update_with_two_large_objects_is_reviewed(server: Server) -> None:
    new = pod("web-0", restricted=True)
    new["metadata"]["annotations"] = {"big": "x" * (3 * MiB - 4096)}
    old = json.loads(json.dumps(new))
    old["spec"]["containers"][0]["image"] = "registry.example/web:0.9"
    body = json.dumps(review(new, operation="UPDATE", old=old)).encode()
    assert len(body) > 5.9 * MiB
    status, answer = post(server, body, timeout=60)
    assert status == 200 and answer["response"]["allowed"] is True


def test_oversized_headers_are_refused(server: Server) -> None:
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        server.context().wrap_socket(raw, server_hostname="127.0.0.1") as s,
    ):
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * (64 * 1024) + b"\r\n\r\n")
        data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 400") or data == b""
    assert post(server, review(pod(restricted=True)))[0] == 200


def test_mutation_never_contradicts_a_legacy_seccomp_annotation(server: Server) -> None:
    p = pod()
    p["metadata"]["annotations"] = {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}
    p["metadata"]["namespace"] = "dev"
    _, answer = post(server, review(p, namespace="dev"), path="/mutate")
    ops = json.loads(base64.b64decode(answer["response"]["patch"]))
    assert not any("seccompProfile" in json.dumps(op) for op in ops)


def test_a_blocked_log_stream_never_blocks_reviews(tmp_path: pathlib.Path) -> None:
    s = start(tmp_path, "--workers", "1", stderr=subprocess.PIPE)  # a pipe nobody reads: it fills, then blocks
    try:
        body = json.dumps(review(pod(restricted=True))).encode()
        t = time.monotonic()
        with (
            socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw,
            s.context().wrap_socket(raw, server_hostname="127.0.0.1") as conn,
        ):
            reader = conn.makefile("rb")
            for _ in range(3000):  # ~1.3 MB of log lines: far past a pipe's 64 KiB
                conn.sendall(http("POST", "/validate", body))
                assert reader.readline().startswith(b"HTTP/1.1 200")
                length = 0
                while (line := reader.readline()) != b"\r\n":
                    if line.lower().startswith(b"content-length"):
                        length = int(line.split(b":")[1])
                reader.read(length)
        assert time.monotonic() - t < 60
        queued = metric(s, "podsec_webhook_log_bytes_queued") + metric(s, "podsec_webhook_log_lines_dropped")
        assert queued > 64 * 1024  # the stream stopped taking lines long ago; answers kept coming
    finally:
        s.proc.kill()
        s.proc.wait(10)
        assert s.proc.stderr is not None
        s.proc.stderr.close()
