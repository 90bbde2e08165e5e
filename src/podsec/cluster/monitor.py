"""``podsec monitor``: the audit kept current — list and watch, compact digests, metrics, reports.

One thread per served kind (and one for namespaces) lists in pages and then watches from the
list's resourceVersion with bookmarks; a 410 Gone (an ERROR event or an answer) lists again, a
dropped connection watches again after a back-off, and every ``resync`` seconds each kind is
listed afresh (what a missed event hid comes back, what was deleted goes). Events go through a
bounded queue to one processing thread, so the watchers wait when it falls behind.

Nothing keeps an object: each is reduced on arrival to an `Entry` — uid, owner, liveness, its
pods' projection digests (`projection.digest`) and, when it is evaluated, a `Verdicts` of a few
hundred bytes. An object whose digests, owner and liveness did not change is not evaluated
again; a pod that projects like its owner's template is never evaluated at all. Namespaces whose
objects changed are judged again at most every ``debounce`` seconds, and their metrics and
readiness report updated. Only the replica holding the Lease writes reports.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from podsec.cluster import discovery, owners, projection, readiness
from podsec.cluster.api import Api, ClusterError, Gone
from podsec.cluster.audit import Reported, object_uri, server_version
from podsec.cluster.evaluation import Evaluator, level_policy
from podsec.cluster.metrics import MonitorMetrics
from podsec.cluster.psaconfig import PsaConfig
from podsec.evaluate import Context
from podsec.model.objects import ObjectRef
from podsec.model.standards import Level, PolicyVersion, Version

LOG = logging.getLogger("podsec.monitor")
NAMESPACES = discovery.Resource("", "v1", "Namespace", "namespaces", False, frozenset({"list", "watch"}))


@dataclass(frozen=True, slots=True)
class Settings:
    page_size: int = 500
    resync: float = 3600.0  # seconds between full lists of each kind
    debounce: float = 2.0  # seconds a namespace's changes are gathered before it is judged again
    watch_timeout: int = 300  # seconds a watch request lasts before it is renewed
    pinned: PolicyVersion | None = None
    psa: PsaConfig = field(default_factory=PsaConfig)
    write_reports: bool = False
    passes: bool = True  # written reports list passing results
    queue_size: int = 1000


@dataclass(frozen=True, slots=True)
class Verdicts:
    """What is kept of an evaluation (never the findings themselves)."""

    ref: ObjectRef
    key: bytes  # `projection.violations_key`
    verdicts: Mapping[str, str | None]
    runtime_classes: tuple[str | None, ...]
    failing: tuple[tuple[str, str], ...]  # (check level, check id) of each finding, once


@dataclass(slots=True)
class Entry:
    resource: discovery.Resource
    namespace: str | None
    name: str
    uid: str
    owner: str | None
    digests: tuple[bytes, ...]
    live: bool
    creator: str | None
    verdicts: Verdicts | None = None
    changed: float = 0.0  # when the change that made it was received (monotonic)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str  # ADDED, MODIFIED, DELETED, SYNCED (a list ended: uids seen), RELIST (a list starts)
    resource: discovery.Resource
    obj: dict[str, Any] | None = None
    seen: frozenset[str] = frozenset()
    received: float = 0.0


class Monitor:
    def __init__(self, api: Api, ctx: Context, settings: Settings, metrics: MonitorMetrics) -> None:
        self.api, self.ctx, self.settings, self.metrics = api, ctx, settings, metrics
        self.events: queue.Queue[Event] = queue.Queue(settings.queue_size)
        self.entries: dict[str, Entry] = {}
        self.by_namespace: dict[str | None, set[str]] = {}
        self.labels: dict[str, Mapping[str, str]] = {}
        self.dirty: dict[str | None, float] = {}  # namespace -> earliest change not yet judged
        self.synced: set[str] = set()  # resources whose first list is done
        self.resources: list[discovery.Resource] = []
        self.evaluator = Evaluator(ctx, {})
        self.stop = threading.Event()
        self.leader = threading.Event()  # set while this replica holds the Lease
        self.written: dict[str, bytes] = {}  # report name -> digest of what was last written
        self.evaluations = 0
        self.cluster: Version = (1, 0)
        self.pinned = PolicyVersion(None)
        self._next_judge = 0.0

    # --- the watchers ---------------------------------------------------------------------

    def start(self) -> threading.Thread:
        _, self.cluster = server_version(self.api)
        self.pinned = self.settings.pinned or PolicyVersion(self.cluster[1])
        kinds = self.ctx.kinds.pod_kinds()
        self.resources = sorted(discovery.served(self.api, kinds), key=lambda r: owners.rank(r.group, r.kind))
        for level in readiness.LEVELS:
            self.evaluator.add_level(
                readiness.level_name(level, self.pinned), level_policy(level, self.pinned, self.cluster)
            )
        lister = threading.Thread(target=self._first_lists, name="podsec-lists", daemon=True)
        lister.start()
        return lister

    def _first_lists(self) -> None:
        """The first list of every kind, owners before what they own (so that a pod like its
        template is never evaluated), then a watcher per kind from its list's version."""
        versions: dict[str, str | None] = {}
        for resource in [NAMESPACES, *self.resources]:
            if not {"list", "watch"} <= resource.verbs:
                LOG.warning("kind not watched", extra={"fields": {"resource": resource.name, "verbs": "no list/watch"}})
                continue
            try:
                versions[resource.name] = self._list(resource)
            except ClusterError as exc:
                versions[resource.name] = None  # its watcher lists again after a back-off
                self.metrics.failed(resource.name)
                LOG.warning("list failed", extra={"fields": {"resource": resource.name, "error": str(exc)}})
        for resource in [NAMESPACES, *self.resources]:
            if resource.name in versions and not self.stop.is_set():
                args = (resource, versions[resource.name])
                threading.Thread(target=self._watch, args=args, name=f"watch-{resource.name}", daemon=True).start()

    def _put(self, event: Event) -> None:
        while not self.stop.is_set():
            try:
                self.events.put(event, timeout=0.5)
                return
            except queue.Full:
                continue

    def _watch(self, resource: discovery.Resource, version: str | None) -> None:
        """Watch from ``version``; list again on 410, on a failure (after a back-off), and every resync."""
        delay = 0.5
        while not self.stop.is_set():
            try:
                if version is None:
                    version = self._list(resource)
                delay = 0.5
                deadline = time.monotonic() + self.settings.resync
                while not self.stop.is_set() and time.monotonic() < deadline:
                    version = self._watch_once(resource, version, deadline)
                version = None  # resync: list afresh
                if not self.stop.is_set():
                    self.metrics.restart(resource.name, "resync")
                    LOG.info("resync: listing again", extra={"fields": {"resource": resource.name}})
            except Gone:
                version = None
                self.metrics.restart(resource.name, "gone")
                LOG.info("watch expired; listing again", extra={"fields": {"resource": resource.name}})
            except ClusterError as exc:  # the version may still be good: watch again from it (410 if not)
                self.metrics.restart(resource.name, "error")
                LOG.warning("watch failed", extra={"fields": {"resource": resource.name, "error": str(exc)}})
                self.metrics.failed(resource.name)
                self.stop.wait(delay)
                delay = min(delay * 2, 30.0)
            except Exception as exc:  # a bug must not end the watch of a kind for good
                version = None
                LOG.error("watch crashed", extra={"fields": {"resource": resource.name, "error": repr(exc)}})
                self.stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _list(self, resource: discovery.Resource) -> str:
        started = time.monotonic()
        seen: set[str] = set()
        version = ""
        for page in self.api.pages(resource.path(), limit=self.settings.page_size):
            if page.restarted:
                seen.clear()
            for obj in page.items:
                obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
                seen.add(str((obj.get("metadata") or {}).get("uid") or ""))
                self._put(Event("ADDED", resource, obj, received=time.monotonic()))
            version = page.resource_version or version
        self._put(Event("SYNCED", resource, seen=frozenset(seen), received=time.monotonic()))
        self.metrics.listed(resource.name, time.monotonic() - started)
        return version

    def _watch_once(self, resource: discovery.Resource, version: str, resync_at: float) -> str:
        """One watch request, ended by the server at the next resync at the latest (so that a resync
        shorter than ``watch_timeout`` happens on time)."""
        timeout = max(1, min(self.settings.watch_timeout, math.ceil(resync_at - time.monotonic())))
        for event in self.api.watch(resource.path(), version, timeout_seconds=timeout):
            kind, obj = event.get("type"), event.get("object") or {}
            meta = obj.get("metadata") or {}
            version = str(meta.get("resourceVersion") or version)
            if kind == "BOOKMARK":
                continue
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
                self._put(Event(str(kind), resource, obj, received=time.monotonic()))
            if self.stop.is_set():
                break
        return version

    # --- processing -----------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return bool(self.resources) and not self.unlisted()

    def unlisted(self) -> list[str]:
        """The kinds not listed yet (not allowed, or failing): until they are, no namespace is judged,
        ``/readyz`` names them, and the stale-audit alert fires in the end."""
        return sorted(({r.name for r in self.resources} | {NAMESPACES.name}) - self.synced)

    def run_for(self, seconds: float) -> None:
        """Process events for ``seconds``; judge dirty namespaces every ``debounce`` seconds."""
        end = time.monotonic() + seconds
        while not self.stop.is_set() and time.monotonic() < end:
            wait = min(end, self._next_judge) - time.monotonic()
            with contextlib.suppress(queue.Empty):
                self.process(self.events.get(timeout=max(0.01, wait)))
            if time.monotonic() >= self._next_judge:
                self.judge_dirty()
                self._next_judge = time.monotonic() + self.settings.debounce

    def process(self, event: Event) -> None:
        if event.kind == "SYNCED":
            self._synced(event)
            return
        obj = event.obj or {}
        meta = obj.get("metadata") or {}
        if event.resource is NAMESPACES:
            self._namespace(event, meta)
            return
        uid = str(meta.get("uid") or "")
        if not uid:
            return
        if event.kind == "DELETED":
            self._remove(uid, event.received)
            return
        entry = self._entry(event, obj, meta, uid)
        if entry is None:
            return
        old = self.entries.get(uid)
        if old is not None and (old.digests, old.owner, old.live) == (entry.digests, entry.owner, entry.live):
            return  # nothing an evaluation reads has changed (a status update, a new label)
        owner = self.entries.get(entry.owner or "")
        if owner is None or (owner.digests != entry.digests and not _one_of(entry.digests, owner.digests)):
            entry.verdicts = self._evaluate(entry, obj, owner)
        self.entries[uid] = entry
        self.by_namespace.setdefault(entry.namespace, set()).add(uid)
        self.dirty.setdefault(entry.namespace, event.received)

    def _namespace(self, event: Event, meta: Mapping[str, Any]) -> None:
        """A namespace came, changed or went: its PSA labels, and the level its objects are judged at."""
        name = str(meta.get("name") or "")
        if event.kind == "DELETED":
            self.labels.pop(name, None)
            self.metrics.forget(name)
        elif self.labels.get(name) != readiness.psa_labels(meta.get("labels")):
            self.labels[name] = readiness.psa_labels(meta.get("labels"))
            self._enforced_level(name)
            self.dirty.setdefault(name, event.received)

    def _entry(self, event: Event, obj: Mapping[str, Any], meta: Mapping[str, Any], uid: str) -> Entry | None:
        """What is kept of an object that carries pods (None for one that carries none)."""
        sources = self.evaluator.sources(obj)
        if not sources:
            return None
        namespace = meta.get("namespace")
        if isinstance(namespace, str):
            namespace = sys.intern(namespace)  # one copy per namespace, not one per object
        return Entry(
            event.resource,
            namespace,
            str(meta.get("name") or ""),
            uid,
            owners.controller_of(obj),
            projection.digest(obj, sources),
            owners.is_live(obj),
            readiness.creator(event.resource.kind, obj),
            changed=event.received,
        )

    def _synced(self, event: Event) -> None:
        """A list ended: what was known of that kind and not listed was deleted meanwhile."""
        self.synced.add(event.resource.name)
        for uid in [u for u, e in self.entries.items() if e.resource == event.resource and u not in event.seen]:
            self._remove(uid, event.received)
        if self.ready:
            self.metrics.synced()

    def _remove(self, uid: str, received: float) -> None:
        entry = self.entries.pop(uid, None)
        if entry is not None:
            self.by_namespace.get(entry.namespace, set()).discard(uid)
            self.dirty.setdefault(entry.namespace, received)

    def _enforced_level(self, namespace: str) -> None:
        policy = readiness.namespace_policy(self.labels[namespace], self.settings.psa)
        name = readiness.enforce_name(policy)
        if name and name not in self.evaluator.levels:
            level = Level(policy.enforce.profile)
            self.evaluator.add_level(name, level_policy(level, policy.enforce.version, self.cluster))

    def _evaluate(self, entry: Entry, obj: Mapping[str, Any], owner: Entry | None = None) -> Verdicts | None:
        """Evaluate; write its report (the leader) when it stands for itself: a top-level owner, or
        an owned object whose findings differ from its owner's (a pod with a debug container)."""
        self.evaluations += 1
        uri = object_uri(self.api.target.context, entry.resource.name, entry.namespace, entry.name)
        evaluated = self.evaluator.evaluate(obj, file=uri)
        result = evaluated.result
        if result is None:
            self.metrics.evaluation_errors += 1
            return None
        if self.settings.write_reports and self.leader.is_set():
            if entry.owner is None or owner is None:
                self._write(Reported(result, entry.uid, owners.Decision.TOP.value))
            else:
                stand = self._standing(owner)
                if stand is None or stand.key != evaluated.key:
                    why = f"differs from the template of {stand.ref}" if stand else owners.Decision.CHECK.value
                    self._write(Reported(result, entry.uid, why))
        return Verdicts(
            result.object,
            evaluated.key,
            dict(evaluated.verdicts),
            evaluated.runtime_classes,
            tuple(sorted({(str(f.level), f.check.id) for f in result.findings})),
        )

    def _standing(self, owner: Entry | None) -> Verdicts | None:
        """The evaluation that stands for ``owner`` (itself, or the owner it is like: a
        ReplicaSet like its Deployment)."""
        for _ in range(4):
            if owner is None or owner.verdicts is not None:
                break
            owner = self.entries.get(owner.owner or "")
        return owner.verdicts if owner is not None else None

    def _refetch(self, entry: Entry) -> Verdicts | None:
        """Evaluate an object again from the API (a level it was not evaluated at, an owner that
        arrived after it): one GET."""
        path = entry.resource.path(entry.namespace) + "/" + entry.name
        try:
            obj = self.api.get(path)
        except ClusterError:
            return entry.verdicts
        obj["apiVersion"], obj["kind"] = entry.resource.api_version, entry.resource.kind
        return self._evaluate(entry, obj)

    def judge_dirty(self) -> None:
        if not self.ready:
            return
        dirty, self.dirty = self.dirty, {}
        for namespace, since in dirty.items():
            self.judge(namespace)
            self.metrics.change_seen(time.monotonic() - since)
        self.metrics.tracked(len(self.entries), self.evaluations)

    def subjects(self, namespace: str | None) -> Iterator[tuple[Entry, readiness.Subject]]:
        """The namespace's evaluated objects standing for themselves (top-level owners and what
        differs from its owner), as readiness subjects; running pods counted against them."""
        uids = self.by_namespace.get(namespace, set())
        entries = sorted((self.entries[u] for u in uids), key=lambda e: owners.rank(e.resource.group, e.resource.kind))
        lineage = owners.Lineage()
        subjects: dict[str, readiness.Subject] = {}
        enforced = self._enforce_name(namespace)
        for e in entries:
            record = owners.Record(e.resource.kind, e.namespace, e.name, e.uid, e.owner, e.digests, e.live)
            decision = lineage.decide(record)
            pod = e.resource.kind == "Pod"
            if decision in (owners.Decision.TOP, owners.Decision.CHECK):
                subject = self._subject(e, enforced, lineage, record)
                if subject is not None:
                    subjects[e.uid] = subject
            if pod and e.live and record.stands_for and record.stands_for != e.uid and record.stands_for in subjects:
                subjects[record.stands_for].pods += 1
            if not pod:
                lineage.keep(record)
        for uid, subject in subjects.items():
            yield self.entries[uid], subject

    def _subject(
        self, e: Entry, enforced: str | None, lineage: owners.Lineage, record: owners.Record
    ) -> readiness.Subject | None:
        """An object that may stand for itself as a readiness subject, evaluated again first when it
        was not at the namespace's enforced level; None when it is like its owner after all."""
        if e.verdicts is None or (enforced and enforced not in e.verdicts.verdicts):
            e.verdicts = self._refetch(e)
        if e.verdicts is None or not lineage.settle(record, e.verdicts.key):
            return None
        v = e.verdicts
        return readiness.Subject(
            v.ref, e.uid, e.resource.kind != "Pod", v.verdicts, v.runtime_classes, e.creator, e.live
        )

    def _enforce_name(self, namespace: str | None) -> str | None:
        if namespace is None or namespace not in self.labels:
            return None
        return readiness.enforce_name(readiness.namespace_policy(self.labels[namespace], self.settings.psa))

    def judge(self, namespace: str | None) -> None:
        pairs = list(self.subjects(namespace))
        violations: dict[tuple[str, str], int] = {}
        for entry, _ in pairs:
            for key in entry.verdicts.failing if entry.verdicts else ():
                violations[key] = violations.get(key, 0) + 1
        if namespace is None or namespace not in self.labels:
            self.metrics.violations(namespace or "", violations)
            return
        judged = readiness.judge(namespace, self.labels[namespace], [s for _, s in pairs], self.settings.psa,
                                 self.pinned)  # fmt: skip
        self.metrics.namespace(judged, violations)
        if self.settings.write_reports and self.leader.is_set() and not judged.exempt:
            from podsec.cluster import reports

            self._apply(reports.readiness_report(judged, {"seconds": int(time.time()), "nanos": 0}))

    # --- reports --------------------------------------------------------------------------

    def _write(self, reported: Reported) -> None:
        from podsec.cluster import reports

        self._apply(reports.object_report(self._results(), reported, passes=self.settings.passes))

    def _results(self) -> Any:
        from podsec.reporters.base import RunInfo
        from podsec.reporters.policyreport import Results

        checks = tuple(s.check for s in self.ctx.policy.checks)
        return Results(RunInfo(str(self.ctx.policy), "", checks=checks, started=time.time()))

    def _apply(self, report: dict[str, Any]) -> None:
        from podsec.cluster import reports

        name = f"{report['metadata'].get('namespace', '')}/{report['metadata']['name']}"
        digest = reports.digest(report)
        if self.written.get(name) == digest:
            return
        try:
            reports.apply(self.api, report)
        except ClusterError as exc:
            self.metrics.report_errors += 1
            LOG.warning("cannot write a report", extra={"fields": {"report": name, "error": str(exc)}})
            return
        if len(self.written) < 200_000:  # bounded: past it, reports are written again each time
            self.written[name] = digest
        self.metrics.reports_written += 1


def _one_of(digests: tuple[bytes, ...], owner: tuple[bytes, ...]) -> bool:
    return len(digests) == 1 and digests[0] in owner
