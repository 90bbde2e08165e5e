"""Prometheus metrics whose label values come from fixed sets only.

A label value taken from a request (``request.resource`` of an AdmissionReview that anyone
can send) would let clients grow the metrics without bound: 200,000 distinct resources make
a 55 MB ``/metrics`` page. Every label here is mapped onto a closed set first (`label`),
so the number of series is fixed by construction.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from podsec.admission.manifests import WORKLOADS

ENDPOINTS = frozenset({"validate", "mutate"})
OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})
RESOURCES = frozenset({"pods", *(r for _, resources in WORKLOADS for r in resources)})
SUBRESOURCES = frozenset(
    {"", "ephemeralcontainers", "exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status",
     "resize", "scale"}
)  # fmt: skip
DECISIONS = frozenset({"allow", "deny", "warn", "mutate", "exempt", "skip", "error", "unreviewed"})
MODES = frozenset({"enforce", "warn", "audit", "exempt", "skip", "error", "allow", "mutate", "deny"})
UNREVIEWED = frozenset({"deadline", "overload", "worker", "internal"})
STATUSES = frozenset({"400", "404", "405", "408", "413", "415", "431", "503"})
OTHER = "other"

_REQUEST_LABELS = ("endpoint", "operation", "resource", "subresource")
_DECISION_LABELS = ("endpoint", "operation", "resource", "decision", "mode")
_LATENCY_LABELS = ("endpoint", "operation", "resource", "mode")
BOUND = 1024  # label tuples whose keys are remembered (see Metrics._bind)
_Bound = tuple[tuple[str, ...], tuple[str, ...], list[float]]  # request key, decision key, latency counts
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 5.0)


def label(value: object, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``other``."""
    return value if isinstance(value, str) and value in allowed else OTHER


class Metrics(Collector):
    """Counted in plain dicts on the event loop and exposed through a collector (no locks:
    every update and every scrape happens on the loop)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, ...], int] = {}
        self.decisions: dict[tuple[str, ...], int] = {}
        self.latency: dict[tuple[str, ...], list[float]] = {}  # per-bucket counts (+Inf last), then the sum
        self.bad_requests: dict[tuple[str, ...], int] = {}
        self.unreviewed: dict[tuple[str, ...], int] = {}
        self.gauges: dict[str, tuple[str, float]] = {}  # name -> (help, value), set by the server
        self._bound: dict[tuple[str, ...], _Bound] = {}
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def bad_request(self, status: int) -> None:
        key = (label(str(status), STATUSES),)
        self.bad_requests[key] = self.bad_requests.get(key, 0) + 1

    def not_reviewed(self, endpoint: str, reason: str) -> None:
        key = (label(endpoint, ENDPOINTS), label(reason, UNREVIEWED))
        self.unreviewed[key] = self.unreviewed.get(key, 0) + 1

    def reviewed(
        self, endpoint: str, operation: str, resource: str, subresource: str, verdict: str, mode: str, seconds: float
    ) -> None:
        """Count one answered review: request, decision and latency (labels mapped onto fixed sets)."""
        self.count((endpoint, operation, resource, subresource, verdict, mode), seconds)

    def count(self, labels: tuple[str, str, str, str, str, str], seconds: float) -> None:
        """`reviewed` for a review's label tuple as `handling.answer` gives it (endpoint, operation,
        resource, subresource, verdict, mode). This runs for every review: the keys a tuple maps to
        are remembered (`_bind`), so a review costs two dict increments and a bucket's."""
        bound = self._bound.get(labels)
        if bound is None:
            bound = self._bind(labels)
        request, decision, counts = bound
        requests, decisions = self.requests, self.decisions
        requests[request] = requests.get(request, 0) + 1
        decisions[decision] = decisions.get(decision, 0) + 1
        counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def _bind(self, labels: tuple[str, str, str, str, str, str]) -> _Bound:
        """The request and decision keys of a label tuple and its latency counts. Remembered only
        when every value is in its fixed set already (so at most BOUND tuples of short strings):
        the raw values come from clients."""
        endpoint, operation, resource, subresource, verdict, mode = labels
        endpoint = endpoint if endpoint in ENDPOINTS else OTHER
        operation = operation if operation in OPERATIONS else OTHER
        resource = resource if resource in RESOURCES else OTHER
        mode = mode if mode in MODES else OTHER
        subresource = subresource if subresource in SUBRESOURCES else OTHER
        verdict = verdict if verdict in DECISIONS else OTHER
        bound = (
            (endpoint, operation, resource, subresource),
            (endpoint, operation, resource, verdict, mode),
            self._counts((endpoint, operation, resource, mode)),
        )
        if len(self._bound) < BOUND and labels == (endpoint, operation, resource, subresource, verdict, mode):
            self._bound[labels] = bound
        return bound

    def _counts(self, labels: tuple[str, ...]) -> list[float]:
        counts = self.latency.get(labels)
        if counts is None:
            counts = self.latency[labels] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        return counts

    def collect(self) -> Iterator[Metric]:
        families: list[tuple[str, str, tuple[str, ...], dict[tuple[str, ...], int]]] = [
            ("podsec_admission_requests", "Admission reviews received", _REQUEST_LABELS, self.requests),
            ("podsec_admission_decisions", "Admission decisions", _DECISION_LABELS, self.decisions),
            ("podsec_admission_bad_requests", "Requests answered with 4xx or 503", ("reason",), self.bad_requests),
            ("podsec_admission_unreviewed", "Reviews answered by the failure mode", ("endpoint", "reason"),
             self.unreviewed),
        ]  # fmt: skip
        for name, doc, names, values in families:
            counter = CounterMetricFamily(name, doc, labels=names)
            for labels, value in values.items():
                counter.add_metric(labels, value)
            yield counter
        histogram = HistogramMetricFamily(
            "podsec_admission_duration_seconds", "Time to answer an admission review", labels=_LATENCY_LABELS
        )
        bounds = [*(repr(b) for b in LATENCY_BUCKETS), "+Inf"]
        for labels, counts in self.latency.items():
            cumulative = list(itertools.accumulate(counts[:-1]))
            histogram.add_metric(labels, list(zip(bounds, cumulative, strict=True)), counts[-1])
        yield histogram
        for name, (doc, level) in self.gauges.items():
            yield GaugeMetricFamily(name, doc, value=level)
