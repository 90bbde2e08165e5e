"""``podsec monitor``: the long-running service around `monitor.Monitor` — JSON logs, ``/metrics``,
``/healthz`` (the processing loop is alive), ``/readyz`` (every kind has been listed once), the
Lease, and a clean stop on SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from podsec.admission import logs
from podsec.cluster import api as kube
from podsec.cluster import psaconfig
from podsec.cluster.audit import server_version
from podsec.cluster.lease import Elector
from podsec.cluster.metrics import MonitorMetrics
from podsec.cluster.monitor import Monitor, Settings
from podsec.config import Config
from podsec.evaluation import evaluation
from podsec.findings import EXIT_ERROR
from podsec.model.standards import PolicyVersion

LOG = logging.getLogger("podsec.monitor")
HEARTBEAT_SECONDS = 60.0  # /healthz fails when the processing loop has not turned for this long


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--listen {text}: expected HOST:PORT")
    return host.strip("[]"), int(port)


class _Handler(BaseHTTPRequestHandler):
    monitor: Monitor
    registry: Any
    heartbeat: list[float]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            alive = time.monotonic() - self.heartbeat[0] < HEARTBEAT_SECONDS
            self._send(200 if alive else 503, b"ok\n" if alive else b"processing loop stalled\n")
        elif path == "/readyz":
            ready = self.monitor.ready
            waiting = ", ".join(self.monitor.unlisted()) or "discovery"
            self._send(200 if ready else 503, b"ok\n" if ready else f"not listed yet: {waiting}\n".encode())
        else:
            self._send(404, b"not found\n")

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def run(args: argparse.Namespace, config: Config) -> int:
    if args.namespaces or args.all_namespaces:
        print("podsec: error: the monitor always watches every namespace (no -n or -A)", file=sys.stderr)
        return EXIT_ERROR
    logs.setup(sys.stderr.buffer)
    try:
        host, port = _listen(args.listen)
        psa = psaconfig.load(args.psa_config) if args.psa_config else psaconfig.PsaConfig()
        http, target = kube.connect(args.kubeconfig, args.context, timeout=args.request_timeout)
    except (ValueError, psaconfig.PsaConfigError, kube.ClusterError) as exc:
        print(f"podsec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    api = kube.Api(http, target, qps=args.qps, burst=args.burst, retry_seconds=args.request_timeout)
    if args.latest_is is None and config.latest_is is None:
        try:  # "latest" means what it means to the cluster's own PSA
            args.latest_is = PolicyVersion(server_version(api)[1][1])
        except kube.ClusterError as exc:
            print(f"podsec: error: cannot reach {target.server}: {exc}", file=sys.stderr)
            return EXIT_ERROR
    ev = evaluation(args, config)
    if ev is None:
        return EXIT_ERROR
    settings = Settings(
        page_size=args.page_size,
        resync=args.resync,
        debounce=args.debounce,
        pinned=args.readiness_version,
        psa=psa,
        write_reports=args.write_reports,
        passes=not args.reports_fail_only,
    )
    metrics = MonitorMetrics(max_namespaces=args.max_namespace_series)
    monitor = Monitor(api, ev.ctx, settings, metrics)
    heartbeat = [time.monotonic()]
    server = _serve(monitor, metrics, heartbeat, (host, port), target)
    stop = monitor.stop
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    lease = _leadership(args, api, monitor, metrics)
    if args.run_seconds is not None:
        timer = threading.Timer(args.run_seconds, stop.set)
        timer.daemon = True
        timer.start()
    try:
        monitor.start()
    except kube.ClusterError as exc:
        LOG.error("cannot start", extra={"fields": {"error": str(exc)}})
        return EXIT_ERROR
    while not stop.is_set():
        heartbeat[0] = time.monotonic()
        monitor.run_for(1.0)
    LOG.info("stopping", extra={"fields": {"objects": len(monitor.entries), "evaluations": monitor.evaluations}})
    if lease is not None:
        lease.join(10)  # it steps down, so that another replica takes over at once
    server.shutdown()
    api.close()
    return 0


def _serve(
    monitor: Monitor, metrics: MonitorMetrics, heartbeat: list[float], address: tuple[str, int], target: kube.Target
) -> ThreadingHTTPServer:
    """The HTTP endpoints (metrics, health), served from a thread of their own."""
    handler = type("Handler", (_Handler,), {"monitor": monitor, "registry": metrics.register(), "heartbeat": heartbeat})
    server = ThreadingHTTPServer(address, handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="podsec-http", daemon=True).start()
    LOG.info("serving", extra={"fields": {"address": f"{address[0]}:{server.server_address[1]}",
                                          "context": target.context, "server": target.server}})  # fmt: skip
    return server


def _leadership(
    args: argparse.Namespace, api: kube.Api, monitor: Monitor, metrics: MonitorMetrics
) -> threading.Thread | None:
    """Whether this replica writes reports: by Lease (the thread that keeps it, started), always
    (leader election off), or never (no reports)."""
    if args.write_reports and args.leader_election == "on":
        namespace = args.lease_namespace or api.target.namespace
        identity = f"{socket.gethostname()}_{os.getpid()}"
        elector = Elector(api, namespace, args.lease_name, identity, duration=args.lease_duration)

        def changed(held: bool) -> None:
            metrics.leader = int(held)
            if held:
                monitor.written.clear()  # a new leader writes every report once

        lease = threading.Thread(target=elector.run, args=(monitor.leader, monitor.stop, changed), name="podsec-lease")
        lease.start()
        return lease
    if args.write_reports:
        monitor.leader.set()
        metrics.leader = 1
    return None
