"""The monitor's Prometheus metrics, with bounded labels.

Label values come from closed sets: a namespace (at most ``max_namespaces`` of them have
series of their own; past that, namespaces are counted together under ``namespace="_other"``),
a check id of the registry (or a loaded policy), a check level, a kind podsec reads, a restart
reason. So the number of series is at most namespaces x checks, whatever the cluster holds.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from podsec.cluster.readiness import Readiness
from podsec.model.standards import Level

LEVEL_VALUE = {Level.PRIVILEGED: 0, Level.BASELINE: 1, Level.RESTRICTED: 2}
OTHER = "_other"
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
REASONS = frozenset({"gone", "error", "resync"})


class MonitorMetrics(Collector):
    def __init__(self, *, max_namespaces: int = 5000) -> None:
        self.max_namespaces = max_namespaces
        self.lock = threading.Lock()
        self.enforceable: dict[str, int] = {}
        self.enforced: dict[str, int] = {}
        self.drift: dict[str, int] = {}
        self.breaking: dict[str, int] = {}
        self.by_namespace: dict[str, dict[tuple[str, str], int]] = {}
        self.restarts: dict[tuple[str, str], int] = {}
        self.list_failures: dict[str, int] = {}
        self.list_seconds: dict[str, float] = {}
        self.latency: list[int] = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.objects = 0
        self.evaluations = 0
        self.evaluation_errors = 0
        self.reports_written = 0
        self.report_errors = 0
        self.first_sync: float | None = None
        self.last_success: float | None = None
        self.started = time.monotonic()
        self.leader = 0

    def register(self) -> CollectorRegistry:
        registry = CollectorRegistry()
        registry.register(self)
        return registry

    def _key(self, namespace: str) -> str:
        known = namespace in self.by_namespace or namespace in self.enforceable
        return namespace if known or len(self.by_namespace) < self.max_namespaces else OTHER

    # --- updates (the processing thread) -------------------------------------------------

    def namespace(self, r: Readiness, violations: Mapping[tuple[str, str], int]) -> None:
        with self.lock:
            key = self._key(r.namespace)
            if key == OTHER:
                self._add_other(violations)
                return
            self.by_namespace[key] = dict(violations)
            self.enforced[key] = LEVEL_VALUE[r.enforced_level]
            if r.exempt or r.enforceable is None:
                for table in (self.enforceable, self.drift, self.breaking):
                    table.pop(key, None)
                return
            self.enforceable[key] = LEVEL_VALUE[r.enforceable]
            self.drift[key] = int(r.drift)
            self.breaking[key] = len(r.breaking)

    def violations(self, namespace: str, violations: Mapping[tuple[str, str], int]) -> None:
        with self.lock:
            key = self._key(namespace)
            if key == OTHER:
                self._add_other(violations)
            else:
                self.by_namespace[key] = dict(violations)

    def _add_other(self, violations: Mapping[tuple[str, str], int]) -> None:
        other = self.by_namespace.setdefault(OTHER, {})
        for k, n in violations.items():
            other[k] = other.get(k, 0) + n

    def forget(self, namespace: str) -> None:
        with self.lock:
            for table in (self.enforceable, self.enforced, self.drift, self.breaking, self.by_namespace):
                table.pop(namespace, None)

    def restart(self, resource: str, reason: str) -> None:
        with self.lock:
            key = (resource, reason if reason in REASONS else "error")
            self.restarts[key] = self.restarts.get(key, 0) + 1

    def failed(self, resource: str) -> None:
        with self.lock:
            self.list_failures[resource] = self.list_failures.get(resource, 0) + 1

    def listed(self, resource: str, seconds: float) -> None:
        with self.lock:
            self.list_seconds[resource] = seconds

    def synced(self) -> None:
        with self.lock:
            now = time.time()
            if self.first_sync is None:
                self.first_sync = time.monotonic() - self.started
            self.last_success = now

    def change_seen(self, seconds: float) -> None:
        with self.lock:
            self.latency[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.latency_sum += seconds

    def tracked(self, objects: int, evaluations: int) -> None:
        with self.lock:
            self.objects, self.evaluations = objects, evaluations
            self.last_success = time.time()

    # --- scrapes -------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            yield from self._collect()

    def _collect(self) -> Iterator[Metric]:
        for name, doc, table in (
            ("podsec_namespace_enforceable_level", "Highest Pod Security level the namespace could enforce now "
             "without denying a running pod or a template (0 privileged, 1 baseline, 2 restricted)", self.enforceable),
            ("podsec_namespace_enforced_level", "Pod Security level the namespace enforces (0, 1, 2)", self.enforced),
            ("podsec_namespace_label_drift", "1 when the namespace enforces less than it could", self.drift),
            ("podsec_namespace_would_break", "Objects that its enforced level would deny if created now",
             self.breaking),
        ):  # fmt: skip
            g = GaugeMetricFamily(name, doc, labels=["namespace"])
            for ns, value in sorted(table.items()):
                g.add_metric([ns], value)
            yield g
        v = GaugeMetricFamily("podsec_violations", "Reported objects failing a check", labels=["namespace", "level",
                                                                                                "check"])  # fmt: skip
        for ns, found in sorted(self.by_namespace.items()):
            for (level, check), n in sorted(found.items()):
                v.add_metric([ns, level, check], n)
        yield v
        r = CounterMetricFamily("podsec_watch_restarts", "Lists started again", labels=["resource", "reason"])
        for (resource, reason), n in sorted(self.restarts.items()):
            r.add_metric([resource, reason], n)
        yield r
        f = CounterMetricFamily("podsec_list_failures", "Lists or watches that failed", labels=["resource"])
        for resource, n in sorted(self.list_failures.items()):
            f.add_metric([resource], n)
        yield f
        d = GaugeMetricFamily("podsec_list_duration_seconds", "Duration of the last full list", labels=["resource"])
        for resource, seconds in sorted(self.list_seconds.items()):
            d.add_metric([resource], seconds)
        yield d
        if self.first_sync is not None:
            yield GaugeMetricFamily("podsec_audit_duration_seconds", "From start to the first complete audit",
                                    value=self.first_sync)  # fmt: skip
        if self.last_success is not None:
            yield GaugeMetricFamily(
                "podsec_audit_last_success_timestamp_seconds",
                "When the audit was last complete and current",
                value=self.last_success,
            )
        buckets, total = [], 0
        for bound, n in zip((*BUCKETS, float("inf")), self.latency, strict=True):
            total += n
            buckets.append((str(bound) if bound != float("inf") else "+Inf", total))
        h = HistogramMetricFamily("podsec_change_to_metric_seconds", "From a change received to its metric updated")
        h.add_metric([], buckets, self.latency_sum)
        yield h
        yield GaugeMetricFamily("podsec_objects", "Objects tracked (as digests)", value=self.objects)
        yield CounterMetricFamily("podsec_evaluations", "Objects evaluated", value=self.evaluations)
        yield CounterMetricFamily("podsec_evaluation_errors", "Objects that could not be evaluated",
                                  value=self.evaluation_errors)  # fmt: skip
        yield CounterMetricFamily("podsec_reports_written", "PolicyReports applied", value=self.reports_written)
        yield CounterMetricFamily("podsec_report_errors", "PolicyReports that could not be applied",
                                  value=self.report_errors)  # fmt: skip
        yield GaugeMetricFamily("podsec_leader", "1 while this replica holds the Lease", value=self.leader)
