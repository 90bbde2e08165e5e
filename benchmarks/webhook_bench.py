#!/usr/bin/env python3
"""Bounded load test of the admission webhook over TLS on loopback, against an echo ceiling.

    python benchmarks/webhook_bench.py [--seconds 5] [--rate 1000] [--connections 16]

Two servers, each alone on CPU 0 in turn (the load generator runs on CPU 1):
* podsec: ``podsec webhook serve`` answering a realistic pod review (a controller-created
  Pod in a namespace enforcing restricted and warning hardened; the pod is denied);
* echo: the same stack (uvicorn + uvloop + httptools + starlette's router, same TLS, a plain
  ASGI endpoint like podsec's) that reads the body and returns a fixed AdmissionReview: the
  ceiling of the stack itself.

For each: the highest throughput with --connections keep-alive connections
(reviews/s, p50/p99), then a fixed rate of --rate reviews/s (open loop: latency counts
from when each request was due, so queueing is not hidden). Everything stops by itself.
Every request is a different pod, as a validating webhook sees it: its own generated name,
uid and creationTimestamp (the API server fills them in before validating admission).
podsec is measured twice: --distinct pods of one template in rotation (a ReplicaSet scaling
up, a DaemonSet rolling out: they share one evaluation), and --distinct pods of as many
different templates (more than the evaluation cache holds: every review is evaluated).
Targets (issue #6): podsec >= 50% of the echo throughput; p99 <= 5 ms at 1,000 reviews/s.
The server runs the podsec this Python imports: compiled by mypyc after a regular install, pure
Python after an editable one or with PODSEC_PURE=1 (the first line says which).

The stall test (issue #12): podsec with its workers on every core, good reviews at --stall-rate
(open loop, on CPU 1) while 8 reviews of a 10,000-container pod (1.9 MB each) are kept in flight
for --stall-seconds; reported: the good reviews' p99 and failures (target: p99 <= 50 ms, none
fails) and how the big reviews were answered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ECHO = r"""
import json, sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
BODY = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                   "response": {"uid": "x", "allowed": True}}).encode()
class Echo:  # plain ASGI behind starlette's router, like podsec's /validate
    async def __call__(self, scope, receive, send):
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]})
        await send({"type": "http.response.body", "body": BODY})
async def ready(request):
    return Response(b"ok")
app = Starlette(routes=[Route("/validate", Echo()), Route("/readyz", ready)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools", log_level="error",
            access_log=False, ssl_certfile=sys.argv[2], ssl_keyfile=sys.argv[3])
"""

CONFIG = """\
webhook:
  namespaces:
    shop: {pod-security.kubernetes.io/enforce: restricted, podsec.io/warn: hardened}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > cpu:
        os.sched_setaffinity(0, {cpu})


def unpin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def post(self, request: bytes) -> bytes:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = await self.reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n")[0].decode())
        return body


async def connect(port: int, ctx: ssl.SSLContext, n: int) -> list[Conn]:
    conns = []
    for _ in range(n):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1")
        conns.append(Conn(reader, writer))
    return conns


async def closed_loop(
    port: int, ctx: ssl.SSLContext, requests: list[bytes], n: int, seconds: float
) -> tuple[float, list[float]]:
    conns = await connect(port, ctx, n)
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def worker(conn: Conn) -> None:
        while time.perf_counter() < stop:
            t = time.perf_counter()
            await conn.post(requests[len(latencies) % len(requests)])
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - start
    for c in conns:
        c.writer.close()
    return len(latencies) / elapsed, latencies


async def open_loop(
    port: int, ctx: ssl.SSLContext, requests: list[bytes], rate: float, seconds: float
) -> tuple[float, list[float]]:
    conns = await connect(port, ctx, 32)
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for c in conns:
        pool.put_nowait(c)
    latencies: list[float] = []
    total = int(rate * seconds)
    start = time.perf_counter()

    async def one(due: float, request: bytes) -> None:
        conn = await pool.get()
        try:
            await conn.post(request)
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - due)

    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, requests[i % len(requests)])))
    await asyncio.gather(*tasks)
    achieved = total / (time.perf_counter() - start)
    for c in conns:
        c.writer.close()
    return achieved, latencies


def wait_ready(port: int, ctx: ssl.SSLContext, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120  # a busy shared VM can take a minute to import the server
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited early")
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=1) as raw,
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s,
            ):
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not become ready")


def measure(
    name: str, cmd: list[str], port: int, ctx: ssl.SSLContext, requests: list[bytes], args: argparse.Namespace
) -> dict[str, float]:
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=lambda: pin(0))
    try:
        wait_ready(port, ctx, proc)
        asyncio.run(closed_loop(port, ctx, requests[:1], 4, 1.0))  # warm-up
        rps, lat = asyncio.run(closed_loop(port, ctx, requests, args.connections, args.seconds))
        achieved, fixed = asyncio.run(open_loop(port, ctx, requests, args.rate, args.seconds))
    finally:
        proc.terminate()
        proc.wait(30)
    result = {
        "rps": rps,
        "p50": percentile(lat, 0.5) * 1e3,
        "p99": percentile(lat, 0.99) * 1e3,
        "rate": achieved,
        "rate_p50": percentile(fixed, 0.5) * 1e3,
        "rate_p99": percentile(fixed, 0.99) * 1e3,
    }
    print(
        f"{name:17}: max {rps:7,.0f} reviews/s (p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, "
        f"{args.connections} connections); at {achieved:,.0f}/s: p50 {result['rate_p50']:.2f} ms, "
        f"p99 {result['rate_p99']:.2f} ms"
    )
    return result


def http(body_obj: object) -> bytes:
    body = json.dumps(body_obj).encode()
    return (
        b"POST /validate HTTP/1.1\r\nHost: podsec-webhook.podsec.svc\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def instructions(cmd: list[str], port: int, ctx: ssl.SSLContext, requests: list[bytes], count: int) -> int:
    """CPU instructions the server executes for ``count`` requests (callgrind; noise-free on shared VMs).

    The server runs under valgrind twice, answering nothing and then ``count`` requests
    (over 4 connections, one at a time each); the difference is what the requests cost.
    """
    totals = []
    # Byte-compiled first: else the first run of an edited tree pays its compiling, and the difference is off
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=False, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in (0, count):
            out = pathlib.Path(tmp) / f"callgrind.{n}"
            proc = subprocess.Popen(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd],
                stderr=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
            try:
                deadline = time.monotonic() + 1200  # under valgrind, at load 20: minutes
                while True:
                    try:
                        wait_ready(port, ctx, proc)
                        break
                    except SystemExit:
                        if time.monotonic() > deadline or proc.poll() is not None:
                            raise

                async def send(n: int = n) -> None:
                    conns = await connect(port, ctx, 4)

                    async def one(k: int) -> None:
                        for i in range(k, n, 4):
                            await conns[k].post(requests[i % len(requests)])

                    await asyncio.gather(*(one(k) for k in range(4)))
                    for c in conns:
                        c.writer.close()

                asyncio.run(send())
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(1200)
            found = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M)
            if found is None:
                raise SystemExit("callgrind wrote no totals")
            totals.append(int(found.group(1)))
    return (totals[1] - totals[0]) // count


def big_review(containers: int) -> bytes:
    from tests.admission.payloads import review
    from tests.faults.harness import big_pod

    return http(review(big_pod(containers)))


async def stall(
    port: int, ctx: ssl.SSLContext, good: bytes, big: bytes, rate: float, seconds: float
) -> dict[str, float]:
    """Good reviews at ``rate`` while 8 big reviews are always in flight."""
    latencies: list[float] = []
    failures = 0
    answered: dict[str, int] = {}
    stop = time.perf_counter() + seconds + 0.5

    async def heavy() -> None:
        conn = (await connect(port, ctx, 1))[0]
        while time.perf_counter() < stop:
            body = await conn.post(big)
            code = json.loads(body)["response"].get("status", {}).get("code", 200)
            answered[str(code)] = answered.get(str(code), 0) + 1
        conn.writer.close()

    heavies = [asyncio.create_task(heavy()) for _ in range(8)]
    await asyncio.sleep(0.5)
    conns = await connect(port, ctx, 32)
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    for c in conns:
        pool.put_nowait(c)

    async def one(due: float) -> None:
        nonlocal failures
        conn = await pool.get()
        try:
            body = await conn.post(good)
            if b'"allowed":false' not in body:
                failures += 1
        except Exception:
            failures += 1
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - due)

    start = time.perf_counter()
    tasks = []
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    await asyncio.gather(*heavies)
    for c in conns:
        c.writer.close()
    return {
        "p99": percentile(latencies, 0.99) * 1e3,
        "max": max(latencies) * 1e3,
        "good": len(latencies),
        "failures": failures,
        **{f"big_{k}": v for k, v in answered.items()},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--distinct", type=int, default=5000, help="pods per run (and templates in the uncached run)")
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds; the best of each is kept (noisy VMs); 0: none (with --instructions)",
    )
    ap.add_argument("--stall-seconds", type=float, default=5.0, help="the stall test's length (0: skip it)")
    ap.add_argument("--stall-rate", type=float, default=400.0, help="good reviews per second during the stall test")
    ap.add_argument(
        "--instructions",
        type=int,
        default=0,
        metavar="N",
        help="also count the server's CPU instructions per review over N requests (needs valgrind; minutes)",
    )
    args = ap.parse_args()
    pin(1)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    from tests.admission.payloads import as_validated, pod, review

    import podsec
    from podsec.admission import certs

    with tempfile.TemporaryDirectory() as tmp:
        tls = pathlib.Path(tmp) / "tls"
        certs.generate(str(tls), extra_hosts=("127.0.0.1",))
        (pathlib.Path(tmp) / "podsec.yaml").write_text(CONFIG)
        ctx = ssl.create_default_context(cafile=str(tls / "ca.crt"))
        template = [http(review(as_validated(pod(), f"{i:05x}"))) for i in range(args.distinct)]
        distinct = [
            http(review(as_validated(pod(image=f"registry.example/web:1.{i}"), f"{i:05x}")))
            for i in range(args.distinct)
        ]
        core = "compiled (mypyc)" if podsec.compiled() else "pure Python"
        print(
            f"request: a controller-created Pod review, {len(template[0]):,} bytes; server on CPU 0, load on CPU 1; "
            f"TLS; podsec's core: {core}"
        )
        podsec_cmd = [
            sys.executable, "-m", "podsec", "webhook", "serve", "--tls-cert", str(tls / "tls.crt"),
            "--tls-key", str(tls / "tls.key"), "--config", str(pathlib.Path(tmp) / "podsec.yaml"),
            "--shutdown-delay", "0", "--host", "127.0.0.1", "--port",
        ]  # fmt: skip
        echo_cmd = [sys.executable, "-c", ECHO]
        runs: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.rounds):  # interleaved, so every server sees the same machine
            for name, requests, cmd in (
                ("podsec (template)", template, podsec_cmd),
                ("podsec (distinct)", distinct, podsec_cmd),
                ("echo", template, echo_cmd),
            ):
                port = free_port()
                full = (
                    [*cmd, str(port)]
                    if cmd is podsec_cmd
                    else [*cmd, str(port), str(tls / "tls.crt"), str(tls / "tls.key")]
                )
                runs.setdefault(name, []).append(measure(name, full, port, ctx, requests, args))
        if args.stall_seconds:
            port = free_port()
            proc = subprocess.Popen(  # every core, as deployed (this process is pinned to CPU 1)
                [*podsec_cmd, str(port)], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=unpin
            )
            try:
                wait_ready(port, ctx, proc)
                good = template[0]
                big = big_review(10_000)
                result = asyncio.run(stall(port, ctx, good, big, args.stall_rate, args.stall_seconds))
            finally:
                proc.terminate()
                proc.wait(30)
            bigs = ", ".join(f"{v:.0f} answered {k[4:]}" for k, v in result.items() if k.startswith("big_"))
            print(
                f"stall test: {result['good']:,} good reviews at {args.stall_rate:,.0f}/s with 8 reviews of 10,000 "
                f"containers ({len(big) / 1e6:.1f} MB) in flight: p99 {result['p99']:.1f} ms (target <= 50 ms), "
                f"max {result['max']:.1f} ms, {result['failures']} failed (target 0); big reviews: {bigs}"
            )
        if args.instructions:
            if shutil.which("valgrind") is None:
                raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
            counted = {}
            for name, requests, cmd in (
                ("echo", template, echo_cmd),
                ("podsec (template)", template, podsec_cmd),
                ("podsec (distinct)", distinct, podsec_cmd),
            ):
                port = free_port()
                full = (
                    [*cmd, str(port)]
                    if cmd is podsec_cmd
                    else [*cmd, str(port), str(tls / "tls.crt"), str(tls / "tls.key")]
                )
                counted[name] = instructions(full, port, ctx, requests, args.instructions)
            for name, n in counted.items():
                ratio = counted["echo"] / n
                print(f"{name:17}: {n:,} instructions per review (server, TLS included) = {ratio:.2f} of echo's rate")
        if not runs:
            return 0
        best = {
            name: {"rps": max(r["rps"] for r in rs), "rate_p99": min(r["rate_p99"] for r in rs)}
            for name, rs in runs.items()
        }
        echo = best.pop("echo")
    print(
        f"best of {args.rounds} rounds: echo {echo['rps']:,.0f} reviews/s, "
        f"p99 at {args.rate:,.0f}/s {echo['rate_p99']:.2f} ms"
    )
    for name, r in best.items():
        print(
            f"{name:17}: {r['rps']:,.0f} reviews/s = {r['rps'] / echo['rps']:.2f} of the echo throughput "
            "(target >= 0.50); "
            f"p99 at {args.rate:,.0f}/s {r['rate_p99']:.2f} ms (target <= 5 ms)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
