"""``podsec audit``: read a cluster, evaluate its top-level owners and what differs from them
(`owners`), and judge each namespace's readiness for Pod Security enforcement (`readiness`).

Every pod-bearing kind of the kinds table that the cluster serves is listed in pages, owners
before what they own (`owners.ORDER`); the next page is fetched while one is evaluated. Only a
compact record of each object that may own others is kept, so memory grows with the number of
workloads, not with the objects' size; pods are never kept. A kind that cannot be read — not
allowed, the API server gone — is an error naming it, and the audit says it is partial.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from podsec import engine
from podsec.cluster import beyond, discovery, owners, projection, readiness
from podsec.cluster.api import Api, ClusterError, Forbidden, Page, Unavailable
from podsec.cluster.evaluation import Evaluator, level_policy
from podsec.cluster.psaconfig import PsaConfig
from podsec.cluster.readiness import Readiness, Subject
from podsec.evaluate import Context
from podsec.findings import InputError, ObjectResult
from podsec.model.objects import ObjectRef
from podsec.model.standards import Level, PolicyVersion, Version


@dataclass(frozen=True, slots=True)
class Options:
    namespaces: tuple[str, ...] | None = None  # None: every namespace (-A)
    page_size: int = 500
    psa: PsaConfig = field(default_factory=PsaConfig)
    pinned: PolicyVersion | None = None  # readiness's version (None: the cluster's)


@dataclass(frozen=True, slots=True)
class Reported:
    """An object reported by the audit, and what a PolicyReport about it needs."""

    result: ObjectResult
    uid: str
    why: str  # "top-level", or what it differs from


@dataclass
class KindCount:
    read: int = 0
    evaluated: int = 0
    reported: int = 0


@dataclass
class Outcome:
    context: str
    server: str
    version: str  # the API server's gitVersion
    pinned: PolicyVersion
    resources: list[discovery.Resource]
    namespaces: list[str]
    reported: dict[str | None, list[Reported]] = field(default_factory=dict)  # by namespace (None: cluster)
    readiness: list[Readiness] = field(default_factory=list)
    problems: list[InputError] = field(default_factory=list)
    counts: dict[str, KindCount] = field(default_factory=dict)
    unserved: list[str] = field(default_factory=list)
    beyond: dict[str | None, list[ObjectResult]] = field(default_factory=dict)  # findings beyond the pod
    seconds: float = 0.0

    @property
    def partial(self) -> bool:
        return bool(self.problems)


def object_uri(context: str, resource: str, namespace: str | None, name: str | None = None) -> str:
    """``k8s://<context>/namespaces/<ns>/<resource>/<name>``: where a cluster object is, in reports."""
    where = f"k8s://{quote(context, safe='')}"
    if namespace:
        where += f"/namespaces/{quote(namespace, safe='')}"
    where += f"/{resource}"
    return where + f"/{quote(name, safe='')}" if name else where


def server_version(api: Api) -> tuple[str, Version]:
    """The API server's version, and the Pod Security version ``latest`` means there."""
    info = api.get("/version")
    git = str(info.get("gitVersion") or "")
    minor = "".join(ch for ch in str(info.get("minor") or "") if ch.isdigit())
    cluster: Version = (1, int(minor)) if minor else engine.NEWEST
    return git, min(cluster, engine.NEWEST)


def _prefetched(pages: Iterator[Page], depth: int = 2) -> Iterator[Page]:
    """The pages of ``pages``, the next ones read by a thread while the caller works on one."""
    box: queue.Queue[tuple[Page | None, BaseException | None]] = queue.Queue(depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for page in pages:
                if stop.is_set():
                    return
                box.put((page, None))
            box.put((None, None))
        except BaseException as exc:  # handed to the caller's thread
            box.put((None, exc))

    thread = threading.Thread(target=read, name="podsec-list", daemon=True)
    thread.start()
    try:
        while True:
            page, exc = box.get()
            if exc is not None:
                raise exc
            if page is None:
                return
            yield page
    finally:
        stop.set()


class Auditor:
    def __init__(self, api: Api, ctx: Context, options: Options) -> None:
        self.api, self.ctx, self.options = api, ctx, options
        self.lineage = owners.Lineage()
        self.subjects: dict[str, Subject] = {}
        self.by_namespace: dict[str | None, list[Subject]] = {}
        self.seen: set[str] = set()
        self.evaluator = Evaluator(ctx, {})
        self.down = False

    def run(self) -> Outcome:
        started = time.monotonic()
        git, cluster = server_version(self.api)
        pinned = self.options.pinned or PolicyVersion(cluster[1])
        kinds = self.ctx.kinds.pod_kinds()
        resources = sorted(discovery.served(self.api, kinds), key=lambda r: owners.rank(r.group, r.kind))
        served = {(r.group, r.kind) for r in resources}
        out = Outcome(self.api.target.context, self.api.target.server, git, pinned, resources, [])
        out.unserved = sorted({k for g, k in kinds if (g, k) not in served} - {r.kind for r in resources})
        labels = self._namespaces(out)
        self._levels(labels, pinned, cluster)
        for resource in resources:
            if not resource.namespaced and self.options.namespaces is not None:
                continue  # cluster-scoped kinds are read with -A only
            self._read(resource, out)
        if beyond.kinds(self.ctx) or self.ctx.policy.beyond:
            self._beyond(labels, cluster, out)
        for name in out.namespaces:
            if name in labels:
                subjects = self.by_namespace.get(name, [])
                out.readiness.append(readiness.judge(name, labels[name], subjects, self.options.psa, pinned))
        out.seconds = time.monotonic() - started
        return out

    def _levels(self, labels: dict[str, Mapping[str, str]], pinned: PolicyVersion, cluster: Version) -> None:
        """Evaluate at every PSS level at the pinned version, and at each namespace's enforced level."""
        for level in readiness.LEVELS:
            self.evaluator.add_level(readiness.level_name(level, pinned), level_policy(level, pinned, cluster))
        for name in sorted(labels):
            policy = readiness.namespace_policy(labels[name], self.options.psa)
            enforced = readiness.enforce_name(policy)
            if enforced:
                level = Level(policy.enforce.profile)
                self.evaluator.add_level(enforced, level_policy(level, policy.enforce.version, cluster))

    # --- reading ------------------------------------------------------------------------

    def _problem(self, out: Outcome, uri: str, text: str, exc: ClusterError) -> None:
        reason = f"forbidden: {getattr(exc, 'message', '') or exc}" if isinstance(exc, Forbidden) else str(exc)
        out.problems.append(InputError(uri, None, f"{text}: {reason}; the audit is partial"))
        if isinstance(exc, Unavailable) and not self.down:
            self.down = True
            self.api.retry_seconds = 0.0  # the server is gone: try the rest once each, and say so

    def _namespaces(self, out: Outcome) -> dict[str, Mapping[str, str]]:
        """Labels of the namespaces in scope (read first: readiness needs them)."""
        context = self.api.target.context
        found: dict[str, Mapping[str, str]] = {}
        if self.options.namespaces is None:
            try:
                for page in self.api.pages("/api/v1/namespaces", limit=self.options.page_size):
                    for ns in page.items:
                        meta = ns.get("metadata") or {}
                        found[meta.get("name", "")] = meta.get("labels") or {}
            except ClusterError as exc:
                self._problem(out, object_uri(context, "namespaces", None), "cannot list namespaces", exc)
            out.namespaces = sorted(found)
            return found
        for name in self.options.namespaces:
            out.namespaces.append(name)
            try:
                ns = self.api.get(f"/api/v1/namespaces/{quote(name, safe='')}")
                found[name] = (ns.get("metadata") or {}).get("labels") or {}
            except ClusterError as exc:
                status = getattr(exc, "status", None)
                text = f'namespace "{name}" does not exist' if status == 404 else f'cannot read namespace "{name}"'
                uri = object_uri(context, "namespaces", None, name)
                if status == 404:
                    out.problems.append(InputError(uri, None, text))
                else:
                    self._problem(out, uri, text, exc)
        return found

    def _read(self, resource: discovery.Resource, out: Outcome) -> None:
        scopes: list[str | None] = [None] if self.options.namespaces is None else list(self.options.namespaces)
        count = out.counts.setdefault(resource.name, KindCount())
        for namespace in scopes:
            if namespace is not None and namespace not in out.namespaces:
                continue
            path = resource.path(namespace)
            try:
                for page in _prefetched(self.api.pages(path, limit=self.options.page_size)):
                    for obj in page.items:
                        count.read += 1
                        self._object(resource, obj, out, count)
            except ClusterError as exc:
                where = f"in namespace {namespace}" if namespace else "in any namespace"
                uri = object_uri(self.api.target.context, resource.name, namespace)
                self._problem(out, uri, f"cannot list {resource.name} {where}", exc)

    def _beyond(self, labels: dict[str, Mapping[str, str]], cluster: Version, out: Outcome) -> None:
        """Namespaces, network policies, PodSecurityPolicies and RBAC, through the analyses of `beyond`."""
        context = self.api.target.context

        def uri(resource: str, namespace: str | None, name: str | None) -> str:
            return object_uri(context, resource, namespace, name)

        def problem(where: str, text: str, exc: ClusterError) -> None:
            self._problem(out, where, text, exc)

        scopes: list[str | None] = [None]
        if self.options.namespaces is not None:
            scopes = [n for n in out.namespaces if n in labels]
        try:
            found = beyond.analyse(self.api, self.ctx, cluster, labels, scopes, uri, problem, self.options.page_size)
        except ClusterError as exc:
            self._problem(out, f"k8s://{quote(context, safe='')}", "cannot discover the kinds beyond the pod", exc)
            return
        out.resources += found.resources
        for name, read in found.read.items():
            out.counts.setdefault(name, KindCount()).read += read
        for namespace, results in found.results.items():
            out.beyond.setdefault(namespace, []).extend(results)
        out.problems += found.errors

    # --- deciding and evaluating ----------------------------------------------------------

    def _object(self, resource: discovery.Resource, obj: dict[str, Any], out: Outcome, count: KindCount) -> None:
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind  # list items carry neither
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid or uid in self.seen:
            return  # read again after a list restarted
        self.seen.add(uid)
        sources = self.evaluator.sources(obj)
        if not sources:
            return
        namespace, name = meta.get("namespace"), str(meta.get("name") or "")
        live = owners.is_live(obj)
        record = owners.Record(
            resource.kind, namespace, name, uid, owners.controller_of(obj), projection.digest(obj, sources), live
        )
        decision = self.lineage.decide(record)
        pod = resource.kind == "Pod"
        if decision in (owners.Decision.TOP, owners.Decision.CHECK):
            count.evaluated += 1
            self._evaluate(resource, obj, record, decision, out, count)
        if pod and live and record.stands_for and record.stands_for != uid:
            standing = self.subjects.get(record.stands_for)
            if standing is not None:
                standing.pods += 1
        if not pod:
            self.lineage.keep(record)

    def _evaluate(
        self,
        resource: discovery.Resource,
        obj: dict[str, Any],
        record: owners.Record,
        decision: owners.Decision,
        out: Outcome,
        count: KindCount,
    ) -> None:
        """Evaluate an object that may stand for itself; report it, and make it a readiness
        subject, unless its findings are its owner's."""
        uri = object_uri(self.api.target.context, resource.name, record.namespace, record.name)
        evaluated = self.evaluator.evaluate(obj, file=uri)
        if evaluated.result is None:
            out.problems.extend(evaluated.errors)  # could not be evaluated: the audit is partial
            return
        if not self.lineage.settle(record, evaluated.key):
            return
        count.reported += 1
        why = decision.value if decision is owners.Decision.TOP else self._differs(record)
        out.reported.setdefault(record.namespace, []).append(Reported(evaluated.result, record.uid, why))
        subject = Subject(
            evaluated.result.object,
            record.uid,
            template=resource.kind != "Pod",
            verdicts=evaluated.verdicts,
            runtime_classes=evaluated.runtime_classes,
            creator=readiness.creator(resource.kind, obj),
            running=record.live,
        )
        self.subjects[record.uid] = subject
        self.by_namespace.setdefault(record.namespace, []).append(subject)

    def _differs(self, record: owners.Record) -> str:
        owner = self.lineage.records.get(record.owner or "")
        if owner is None:
            return owners.Decision.CHECK.value
        ref = ObjectRef(None, owner.kind, owner.namespace, owner.name)
        return f"differs from the template of {ref}"


def audit(api: Api, ctx: Context, options: Options) -> Outcome:
    return Auditor(api, ctx, options).run()


def sort_key(reported: Reported) -> tuple[int, str, str]:
    ref: ObjectRef = reported.result.object
    return (owners.rank("", ref.kind or "")[1], ref.kind or "", ref.name or "")
