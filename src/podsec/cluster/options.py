"""The options of ``podsec audit`` and ``podsec monitor`` (kept apart from what runs them, so that
building the command line imports no HTTP client)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from podsec.model.standards import PolicyVersion


def audit_arguments(a: argparse.ArgumentParser, version: Callable[[str], PolicyVersion]) -> None:
    g = a.add_argument_group("cluster")
    g.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default: KUBECONFIG, then ~/.kube/config, "
                   "then the in-cluster service account)")  # fmt: skip
    g.add_argument("--context", metavar="NAME", help="kubeconfig context (default: its current context)")
    g.add_argument("-n", "--namespace", dest="namespaces", action="append", default=[], metavar="NS",
                   help="audit this namespace (repeatable; default: the context's namespace, as kubectl)")  # fmt: skip
    g.add_argument("-A", "--all-namespaces", action="store_true",
                   help="audit every namespace (and cluster-scoped pod-bearing kinds)")  # fmt: skip
    g.add_argument("--qps", type=float, default=50.0, metavar="N", help="requests per second to the API server (50)")
    g.add_argument("--burst", type=int, default=100, metavar="N", help="requests at once above --qps (100)")
    g.add_argument("--page-size", type=int, default=500, metavar="N", help="objects per list request (500)")
    g.add_argument("--request-timeout", type=float, default=30.0, metavar="S",
                   help="give up on a request (and on retrying a failing one) after S seconds (30)")  # fmt: skip
    r = a.add_argument_group("readiness")
    r.add_argument("--psa-config", metavar="FILE",
                   help="the API server's AdmissionConfiguration (or PodSecurityConfiguration): PSA's defaults and "
                   "exemptions are honoured")  # fmt: skip
    r.add_argument("--readiness-version", type=version, metavar="v1.N",
                   help="the Pod Security version readiness pins (default: the API server's)")  # fmt: skip
    w = a.add_argument_group("reports in the cluster")
    w.add_argument("--write-reports", action="store_true",
                   help="server-side apply a PolicyReport per top-level owner (owned by it) and a readiness "
                   "summary per namespace (field manager podsec)")  # fmt: skip
    w.add_argument("--reports-fail-only", action="store_true",
                   help="written reports hold failures and exemptions only, no passing results")  # fmt: skip
    a.add_argument("--config", metavar="FILE", help="configuration file (default: .podsec.yaml here or above)")
    a.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")


def monitor_arguments(m: argparse.ArgumentParser) -> None:
    g = m.add_argument_group("monitor")
    g.add_argument("--listen", default="0.0.0.0:8080", metavar="HOST:PORT",
                   help="serve /metrics, /healthz and /readyz here (0.0.0.0:8080; port 0: any free port)")  # fmt: skip
    g.add_argument("--resync", type=float, default=3600.0, metavar="S", help="list every kind afresh every S s (3600)")
    g.add_argument("--debounce", type=float, default=2.0, metavar="S",
                   help="gather a namespace's changes for S seconds before judging it again (2)")  # fmt: skip
    g.add_argument("--max-namespace-series", type=int, default=5000, metavar="N",
                   help="namespaces with metric series of their own; the rest count as _other (5000)")  # fmt: skip
    g.add_argument("--leader-election", choices=["on", "off"], default="on",
                   help="with --write-reports: only the replica holding the Lease writes (on)")  # fmt: skip
    g.add_argument("--lease-namespace", metavar="NS", help="the Lease's namespace (default: the pod's or context's)")
    g.add_argument("--lease-name", default="podsec-monitor", metavar="NAME", help="the Lease (podsec-monitor)")
    g.add_argument("--lease-duration", type=float, default=15.0, metavar="S", help="seconds a Lease holds (15)")
    g.add_argument("--run-seconds", type=float, metavar="S", help="stop after S seconds (tests, benchmarks)")
