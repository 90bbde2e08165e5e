"""The admission decision: an AdmissionReview in, the response out. Pure (no I/O, no clock).

Follows Pod Security Admission's behaviour (``k8s.io/pod-security-admission``):
Pods are enforced on CREATE, on UPDATEs that change what matters (container count or
images, ephemeral containers) and on the ``ephemeralcontainers`` subresource; other pod
subresources are ignored; workload objects get warn and audit only, unless the server is
configured to enforce on them too. Exempt usernames, runtime classes and namespaces skip
everything. podsec adds its profiles, Rego policies and exemptions.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, NamedTuple

import orjson

from podsec import catalog, engine, explain
from podsec.admission import mutate
from podsec.admission.cache import ByteLRU
from podsec.admission.envelope import (
    MAX_DEPTH,
    Request,
    Response,
    ReviewError,
    clean,
    response,
    trimmed,
)
from podsec.admission.labels import DEFAULTS, ModePolicy, NamespacePolicy, policy_for
from podsec.checks import ALL_CHECKS, CheckLevel
from podsec.evaluate import Context, Failing, Prepared, evaluate_object, failing_checks, prepare
from podsec.exemptions import EXEMPT, Exemption
from podsec.findings import ObjectResult, Suppressed
from podsec.model.pod import CONTAINER_KINDS, get_path
from podsec.model.workloads import KindTable
from podsec.rego.policies import PolicySet

IGNORED_POD_SUBRESOURCES = frozenset({"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"})
MAX_WARNINGS = 10
MAX_WARNING_RUNES = 256  # the API server truncates to this once a response's warnings pass 4096 runes
MAX_AUDIT_VALUE = 4096
MAX_MESSAGE = 4096  # a denial's message: PSA lists every container, which for 100,000 containers is megabytes


@dataclass(frozen=True, slots=True)
class AnnotationExemptions:
    """Whether, where and for what ``podsec.io/exempt`` annotations count in the webhook.

    Off unless the cluster's configuration turns them on: with ``failurePolicy: Fail`` on every
    pod, an exemption any pod author can write is a bypass. When on, they can be limited to
    namespaces (globs) and to checks, and they never cover the Pod Security Standards checks of
    the level the namespace enforces unless ``enforced_levels`` allows it.
    """

    enabled: bool = False
    namespaces: tuple[str, ...] = ()  # globs; empty: every namespace
    checks: frozenset[str] = frozenset()  # empty: any check
    enforced_levels: bool = False  # may also exempt checks of the PSS level the namespace enforces

    def allows(self, namespace: str) -> bool:
        return self.enabled and (not self.namespaces or any(fnmatch.fnmatchcase(namespace, g) for g in self.namespaces))


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    exempt_usernames: frozenset[str] = frozenset()
    exempt_runtime_classes: frozenset[str] = frozenset()
    exempt_namespaces: frozenset[str] = frozenset()
    enforce_workloads: bool = False  # also deny workload objects (PSA only warns and audits)
    annotation_exemptions: AnnotationExemptions = AnnotationExemptions()
    exemptions: tuple[Exemption, ...] = ()
    policy_sets: Mapping[str, PolicySet] = field(default_factory=dict)
    kinds: KindTable = field(default_factory=KindTable)
    defaults: NamespacePolicy = DEFAULTS  # for namespaces without labels (PSA's "defaults")
    mutate_default: bool = False
    failure_mode: str = "deny"  # deny | allow: the answer to a review that cannot be finished in time
    cache_bytes: int = 16 * 1024 * 1024  # the evaluation cache (per process)


class Decision(NamedTuple):
    """What happened, for logs and metrics (a tuple: made for every review, and cheap to make)."""

    allowed: bool
    mode: str  # enforce | warn | audit | exempt | skip | error
    reason: str = ""


def _pod_spec_fingerprint(pod: Mapping[str, Any]) -> tuple[Any, ...]:
    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    assert isinstance(spec, dict)

    def images(kind: str) -> tuple[Any, ...]:
        items = spec.get(kind) if isinstance(spec.get(kind), list) else []
        assert isinstance(items, list)
        return tuple((c.get("name"), c.get("image")) if isinstance(c, dict) else c for c in items)

    return images("initContainers"), images("containers"), images("ephemeralContainers")


def significant_pod_update(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """PSA's isSignificantPodUpdate: container counts or images changed, or ephemeral containers added/changed."""
    if not isinstance(old, dict):
        return True
    return _pod_spec_fingerprint(new) != _pod_spec_fingerprint(old)


def _template(obj: Mapping[str, Any], kinds: KindTable) -> Any:
    return [get_path(obj, src.layers[0]) for src in kinds.pod_sources(obj)]


MAX_EXACT_KEY = 16 * 1024  # the cache then holds at most EVALUATION_CACHE x 16 KiB of keys


def evaluation_key(obj: Mapping[str, Any], kinds: KindTable, *, names_matter: bool, everything_matters: bool) -> bytes:
    """What an evaluation of ``obj`` reads, serialised (or its digest, for a large object).

    Derived from pod extraction (`KindTable.pod_sources`), the only way checks see an object:
    its kind, namespace and annotations (exemptions, origins), names when an exemption matches
    names, and for each pod what extraction reads (`PodSource.reads`). Per-object fields (name,
    uid, timestamps, labels, status) stay out, so the pods of a ReplicaSet, Job or DaemonSet
    share one evaluation. Rego policies may read anything: then, and for objects whose pod
    cannot be extracted, the key is the whole object.
    """
    data: Any = obj
    sources = () if everything_matters else kinds.pod_sources(obj)  # none when a step is of the wrong type
    if sources:
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        names = (meta.get("name"), meta.get("generateName")) if names_matter else None
        data = [obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("annotations"), names]
        for src in sources:
            data.append([get_path(obj, path) for path in src.reads])
    try:
        raw = orjson.dumps(data)
    except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes (254 levels), or a huge integer
        if "ecursion" in str(exc):
            raise ReviewError(f"the object is nested more than {MAX_DEPTH} levels deep") from None
        try:
            raw = repr(data).encode()
        except RecursionError:
            raise ReviewError(f"the object is nested more than {MAX_DEPTH} levels deep") from None
    # Small objects (nearly every pod) are their own key: exact, and cheaper than hashing them.
    return raw if len(raw) <= MAX_EXACT_KEY else hashlib.blake2b(raw, digest_size=20).digest()


_PSS_CHECKS = frozenset(c.id for c in ALL_CHECKS if c.level.is_pss)


def _bounded(text: str) -> str:
    """`clean` at MAX_MESSAGE, without its cost for the usual short, printable text."""
    return text if len(text) <= MAX_MESSAGE and text.isprintable() else clean(text, MAX_MESSAGE)


class Used(NamedTuple):
    """An exemption that hid findings in this evaluation, and the checks it hid."""

    exemption: Exemption
    checks: tuple[str, ...]

    def describe(self) -> str:
        e = self.exemption
        until = f"until {e.until.isoformat()}" if e.until else "no expiry"
        return f"{e.where} exempts {', '.join(self.checks)} ({until}); reason: {e.reason}"  # where: its source


def _messages(result: ObjectResult) -> tuple[list[tuple[str, str]], list[str]]:
    """The failing checks' messages and the governance notes of an evaluation, in one pass."""
    governance = CheckLevel.GOVERNANCE
    failing: list[tuple[str, str]] = []
    notes: list[str] = []
    for f in result.findings:
        if f.level is governance:
            notes.append(_bounded(f.message))
        else:
            failing.append((f.check.id, _bounded(f.message)))
    return failing, notes


def _failing(result: Failing, printable: bool) -> tuple[list[tuple[str, str]], str | None]:
    """The failing checks' messages, bounded, and PSA's text. The text is made of these messages
    (`engine.verdict`): when each of them is printable and short, only its length is left to check.
    ``printable``: the messages are known printable (`Outcome`); only their lengths are checked."""
    failing: list[tuple[str, str]] = []
    fine = True
    for check, text in result.checks:
        if len(text) > MAX_MESSAGE or not (printable or text.isprintable()):
            text, fine = clean(text, MAX_MESSAGE), False
        failing.append((check.id, text))
    verdict = result.verdict
    if verdict is not None and not (fine and len(verdict) <= MAX_MESSAGE):
        verdict = _bounded(verdict)
    return failing, verdict


def _used(suppressed: Iterable[Suppressed]) -> tuple[Used, ...]:
    """The exemptions that hid findings, each with the checks it hid."""
    used: dict[Exemption, dict[str, None]] = {}
    for s in suppressed:
        used.setdefault(s.exemption, {})[s.finding.check.id] = None
    return tuple(Used(e, tuple(checks)) for e, checks in used.items())


class Outcome:
    """One evaluation for one mode's policy, reduced to what answers use (and so what the cache holds).

    Cached with the evaluation, so the pods of a template share the texts too; every text is
    bounded, whatever the object (a container name of megabytes, 100,000 containers).
    """

    __slots__ = ("_texts", "_warnings", "error", "failing", "mode", "notes", "size", "used", "verdict")

    def __init__(
        self, mode: ModePolicy, result: ObjectResult | Failing | None, error: str | None, printable: bool = False
    ) -> None:
        """``printable``: the object's strings are all printable ASCII (`envelope.printable`); then so
        are the messages of built-in checks (`Failing`), made only of them and the checks' texts."""
        self.mode = mode
        self.error = clean(error, MAX_MESSAGE) if error is not None else None
        failing: list[tuple[str, str]] = []
        notes: list[str] = []
        verdict: str | None = None
        used: tuple[Used, ...] = ()
        if type(result) is Failing:  # no exemptions in play: the failing checks as they are
            failing, verdict = _failing(result, printable)  # both bounded
        elif result is not None:
            assert isinstance(result, ObjectResult)
            failing, notes = _messages(result)
            verdicts = result.verdicts
            verdict = _bounded(verdicts[0][1]) if not result.suppressed and verdicts else None
            used = _used(result.suppressed)
        self.failing, self.notes, self.used = tuple(failing), tuple(notes), used
        self.verdict = verdict if mode.profile.is_pss else None
        self._texts: dict[bool, str] = {}
        self._warnings: list[str] | None = None
        texts = sum(len(m) for _, m in failing) + sum(len(m) for m in notes) + len(self.verdict or "")
        self.size = 512 + 2 * texts + 160 * (len(self.failing) + len(self.notes)) + 512 * len(self.used)

    @classmethod
    def merge(cls, mode: ModePolicy, parts: Sequence[Outcome]) -> Outcome:
        """One outcome from those of a huge pod's slices (`slices`): a pod-level violation, found in
        every slice, counted once; each check's messages joined and bounded; PSA's aggregates joined
        under one prefix, each kind of violation named (a slice's aggregate may be cut, never dropped)."""
        out = cls(mode, None, None)
        by_check: dict[str, dict[str, None]] = {}
        notes: dict[str, None] = {}
        used: dict[Exemption, dict[str, None]] = {}
        verdicts: list[str | None] = []
        for o in parts:  # one pass over the slices; the first error is the answer
            if o.error is not None:
                out.error = o.error
                return out
            for check, message in o.failing:
                by_check.setdefault(check, {})[message] = None
            notes.update(dict.fromkeys(o.notes))
            for u in o.used:
                used.setdefault(u.exemption, {}).update(dict.fromkeys(u.checks))
            if o.failing:
                verdicts.append(o.verdict)
        out.failing = tuple((check, _joined(messages)) for check, messages in by_check.items())
        out.notes = tuple(notes)
        if verdicts and None not in verdicts:  # PSA's aggregate: its checks' messages
            head = str(verdicts[0]).partition(": ")[0]
            pss = [m for check, m in out.failing if check in _PSS_CHECKS]
            out.verdict = _bounded(f"{head}: {_joined(pss, sep=', ', each=MAX_MESSAGE // 4)}")
        out.used = tuple(Used(e, tuple(checks)) for e, checks in used.items())
        out.size = 512 + 2 * sum(len(m) for _, m in out.failing) + 160 * len(out.failing) + 512 * len(out.used)
        return out

    def text(self, would: bool) -> str:
        """The violations in one line, PSA's aggregate where PSA would say it exactly."""
        if would not in self._texts:
            self._texts[would] = trimmed(self._text(would), MAX_MESSAGE)  # made of cleaned texts
        return self._texts[would]

    def _text(self, would: bool) -> str:
        mode = self.mode
        prefix = "would violate" if would else "violates"
        if self.verdict is not None:  # PSA's own aggregate, exactly
            return self.verdict.replace("violates", prefix, 1) if would else self.verdict
        name = "PodSecurity" if mode.profile.is_pss else "podsec"
        messages = ", ".join(dict.fromkeys(m for _, m in self.failing))
        return f'{prefix} {name} "{mode}": {messages}'

    def warnings(self) -> list[str]:
        """One warning per failing check, within the API server's limits (a fresh list)."""
        if self._warnings is None:
            self._warnings = self._make_warnings()
        return list(self._warnings)

    def _make_warnings(self) -> list[str]:
        mode = self.mode
        name = "PodSecurity" if mode.profile.is_pss else "podsec"
        by_check: dict[str, list[str]] = {}
        for check, message in self.failing:
            by_check.setdefault(check, []).append(message)
        texts = [f'would violate {name} "{mode}": ' + "; ".join(dict.fromkeys(m)) for m in by_check.values()]
        texts = [clean(t, MAX_WARNING_RUNES) for t in texts]
        if len(texts) > MAX_WARNINGS:
            texts = [*texts[: MAX_WARNINGS - 1], f"... and {len(texts) - MAX_WARNINGS + 1} more violations"]
        return texts


def _joined(texts: Iterable[str], sep: str = "; ", each: int = MAX_MESSAGE) -> str:
    """``texts`` joined, each cut to ``each`` characters, stopping once MAX_MESSAGE is passed."""
    out: list[str] = []
    size = 0
    for text in texts:
        if size > MAX_MESSAGE:
            break
        text = text if len(text) <= each else text[: each - 1] + "\u2026"
        out.append(text)
        size += len(text) + len(sep)
    return _bounded(sep.join(out))


SLICE = 1024  # containers of a huge pod evaluated at once


def slices(obj: Mapping[str, Any], kinds: KindTable) -> list[Mapping[str, Any]] | None:
    """``obj`` as objects of at most SLICE containers of each kind, or None when it has no more.

    Evaluating a pod holds a view of each container and its violations: 3.3 KiB a container,
    330 MiB for the 100,000 containers of the largest pod the API server accepts. Every check is
    a function of the pod-level fields and one container, so slices that share the pod-level
    fields and split the container lists find the same violations, a slice at a time (pod-level
    ones in every slice; `Outcome.merge` counts them once). A slice's regular containers are never
    empty (a pod must have one): a slice past their end keeps the first.
    """
    if _small_pod(obj):  # the usual case, at once
        return None
    lists = [
        (cs.path, found)
        for src in kinds.pod_sources(obj)
        for cs in src.containers
        if cs.many and isinstance(found := get_path(obj, cs.path), list)
    ]
    longest = max((len(items) for _, items in lists), default=0)
    if longest <= SLICE:
        return None
    out = []
    for start in range(0, longest, SLICE):
        part: Any = obj
        for path, items in lists:
            piece = items[start : start + SLICE]
            if not piece and path[-1] == "containers":
                piece = items[:1]
            part = _replaced(part, path, piece)
        out.append(part)
    return out


def _small_pod(obj: Mapping[str, Any]) -> bool:
    """A Pod none of whose container lists is longer than SLICE."""
    spec = obj.get("spec") if obj.get("kind") == "Pod" else None
    return isinstance(spec, dict) and all(
        len(v) <= SLICE for k in CONTAINER_KINDS if isinstance(v := spec.get(k), list)
    )


def _replaced(root: Any, path: Sequence[str | int], value: Any) -> Any:
    """A copy of ``root`` with ``value`` at ``path`` (which exists): only the containers on the path are copied."""
    if not path:
        return value
    head = path[0]
    copied = dict(root) if isinstance(root, dict) else list(root)
    copied[head] = _replaced(root[head], path[1:], value)  # type: ignore[index]
    return copied


def _narrow(found: list[Exemption], allowed: frozenset[str]) -> list[Exemption]:
    """Annotation exemptions limited to the checks they may cover here (none left: dropped)."""
    out = []
    for e in found:
        checks = allowed if "*" in e.checks else e.checks & allowed
        if checks:
            out.append(e if checks == e.checks else replace(e, checks=frozenset(checks)))
    return out


class Review(NamedTuple):
    """What one review computes once and every mode's evaluation shares."""

    obj: Mapping[str, Any]
    ns: NamespacePolicy
    today: date | None
    exemptible: frozenset[str] | None  # what annotation exemptions may cover here; None: they are off
    memo: dict[str, Outcome]
    scratch: list[Any]  # [evaluation key, prepared pods], made on first use
    printable: bool  # every string in the request is printable ASCII (envelope.printable)


def _record_exemptions(r: Review, audit: dict[str, str], warnings: list[str] | None) -> list[str]:
    """Every exemption an evaluation used: one warning each (first, so the limit never drops them)
    and the ``exemptions`` audit annotation, naming the exemption, what it hid, its expiry and reason."""
    quiet = True
    for outcome in r.memo.values():
        if outcome.used or outcome.notes:
            quiet = False
    if quiet:  # nearly every review
        return warnings or []
    used: dict[str, None] = {}
    for outcome in r.memo.values():
        for u in outcome.used:
            used[u.describe()] = None
    notes = [clean(f"podsec: exemption used: {text}", MAX_WARNING_RUNES) for text in used]
    if used:
        audit["exemptions"] = clean(" | ".join(used), MAX_AUDIT_VALUE)
    for outcome in r.memo.values():
        notes += [clean(f"podsec: {n}", MAX_WARNING_RUNES) for n in outcome.notes]
    return [*notes, *(warnings or [])]


class Reviewer:
    """Answers AdmissionReviews.

    Selected checks are cached per (profile, version, policy sets, what annotation exemptions
    may cover). Evaluations are cached too, keyed by what they read (`evaluation_key`) and
    everything else they depend on: the pods of one template differ only in name, uid and
    timestamps, so scaling a workload up or rolling out a DaemonSet costs one evaluation, not
    one per pod. The cache is bounded in bytes (`ByteLRU`). Only an evaluation's messages
    are used from the cache, never its object's name.
    """

    def __init__(self, config: WebhookConfig | None = None) -> None:
        self.config = config or WebhookConfig()
        self._contexts: dict[tuple[Any, ...], Context] = {}
        self._evaluations: ByteLRU[Outcome] = ByteLRU(self.config.cache_bytes)
        self._namespaces: dict[frozenset[tuple[str, str]], NamespacePolicy] = {}
        self._names_matter = any(e.name is not None for e in self.config.exemptions)
        self._last_namespace: tuple[dict[str, str], NamespacePolicy] | None = None
        extra = [c.id for s in self.config.policy_sets.values() for c in s.checks]
        self._check_ids = frozenset([*(c.id for c in catalog.BUILTIN), *extra])
        self._exemptible: dict[tuple[bool, str], frozenset[str] | None] = {}

    def context(
        self, mode: ModePolicy, policy_sets: Sequence[str], today: date | None, exemptible: frozenset[str] | None = None
    ) -> Context:
        key = (mode.profile, str(mode.version), tuple(policy_sets), today, exemptible)
        ctx = self._contexts.get(key)
        if ctx is None:
            sets = [self.config.policy_sets[name] for name in policy_sets if name in self.config.policy_sets]
            policies = PolicySet([m for s in sets for m in s.modules]) if sets else None
            policy = engine.select(mode.profile, mode.version)
            ctx = Context(
                policy,
                self.config.kinds,
                exemptions=self.config.exemptions,
                annotation_exemptions=exemptible is not None,
                annotation_filter=functools.partial(_narrow, allowed=exemptible) if exemptible is not None else None,
                today=today,
                rules=(policies,) if policies is not None else (),
                describe=explain.describe,
                aggregate=True,
            )
            if len(self._contexts) > 256:
                self._contexts.clear()
            self._contexts[key] = ctx
        return ctx

    @property
    def cache_size(self) -> int:
        return self._evaluations.size

    def uses_policies(self, labels: Mapping[str, str] | None) -> bool:
        """Whether a namespace with these labels has Rego policies evaluated (unbounded work: a worker's)."""
        ns = self.namespace_policy(labels)
        return bool(ns.policies) and any(p in self.config.policy_sets for p in ns.policies)

    def exemptible(self, namespace: str, ns: NamespacePolicy) -> frozenset[str] | None:
        """The checks annotation exemptions may cover in this namespace; None: none (they are off here)."""
        rule = self.config.annotation_exemptions
        if not rule.enabled:
            return None
        key = (rule.allows(namespace), ns.enforce.profile)
        if key not in self._exemptible:
            allowed = rule.checks or self._check_ids
            if not rule.enforced_levels:
                levels = ns.enforce.profile.pss_level.check_levels
                allowed = allowed - {c.id for c in ALL_CHECKS if c.level in levels}
            self._exemptible[key] = frozenset(allowed) if key[0] else None
        return self._exemptible[key]

    def _evaluate(self, r: Review, mode: ModePolicy) -> Outcome:
        """One mode's evaluation; modes with the same policy share it."""
        name = str(mode)
        found = r.memo.get(name)
        if found is None:
            ns = r.ns
            if not r.scratch:
                policies = bool(ns.policies) and any(p in self.config.policy_sets for p in ns.policies)
                kinds = self.config.kinds
                r.scratch.append(
                    evaluation_key(r.obj, kinds, names_matter=self._names_matter, everything_matters=policies)
                )
            cache_key = (name, ns.policies, r.today, r.exemptible, r.scratch[0])
            found = self._evaluations.get(cache_key)
            parts = None if found is not None or ns.policies else slices(r.obj, self.config.kinds)
            if parts is not None:  # a huge pod: a slice at a time, nothing kept for the other modes
                ctx = self.context(mode, ns.policies, r.today, r.exemptible)
                outcomes = [self._outcome(mode, evaluate_object(p, ctx, file=None), r.printable) for p in parts]
                found = Outcome.merge(mode, outcomes)
                self._evaluations.put(cache_key, found, len(r.scratch[0]) + found.size)
            elif found is None:
                if len(r.scratch) == 1:
                    r.scratch.append(prepare(r.obj, self.config.kinds))
                prepared: Prepared | list[Any] = r.scratch[1]
                found = self._outcome(mode, self._result(r, mode, prepared), r.printable)
                self._evaluations.put(cache_key, found, len(r.scratch[0]) + found.size)
            r.memo[name] = found
        return found

    def _result(
        self, r: Review, mode: ModePolicy, prepared: Prepared | list[Any]
    ) -> ObjectResult | Failing | list[Any] | None:
        """The evaluation of a read object: its failing checks alone where nothing can exempt or
        add findings (the usual review), else the whole evaluation."""
        if isinstance(prepared, list):
            return prepared
        ctx = self.context(mode, r.ns.policies, r.today, r.exemptible)
        return failing_checks(prepared, ctx) or evaluate_object(r.obj, ctx, file=None, prepared=prepared)

    @staticmethod
    def _outcome(mode: ModePolicy, result: ObjectResult | Failing | list[Any] | None, printable: bool) -> Outcome:
        if isinstance(result, list):
            return Outcome(mode, None, "; ".join(e.message for e in result))
        return Outcome(mode, result, None, printable)

    def namespace_policy(self, labels: Mapping[str, str] | None) -> NamespacePolicy:
        last = self._last_namespace  # reviews come in runs from one namespace: compare, don't hash
        if last is not None and last[0] == (labels or {}):
            return last[1]
        key = frozenset(labels.items()) if labels else frozenset()
        cached = self._namespaces.get(key)
        if cached is None:
            if len(self._namespaces) > 4096:
                self._namespaces.clear()
            cached = self._namespaces[key] = policy_for(
                labels, self.config.defaults, mutate_default=self.config.mutate_default
            )
        self._last_namespace = (dict(labels or {}), cached)
        return cached

    def review(
        self,
        request: Request,
        labels: Mapping[str, str] | None,
        *,
        namespace_known: bool = True,
        today: date | None = None,
    ) -> tuple[dict[str, Any], Decision]:
        """The AdmissionReview response for ``request`` (already `parse`d) and what was decided:
        classify the request, apply the namespace's policy, evaluate each mode, decide, render."""
        skipped = classify(request, self.config.kinds)
        if skipped is not None:
            return response(request.uid, True), Decision(True, "skip", skipped)
        exempt = self._exemption(request, request.namespace or "")
        if exempt:  # PSA's exemptions: namespace, user, runtime class
            answer, decision = Response(True, audit={"exempt": exempt}), Decision(True, "exempt", exempt)
        elif not namespace_known:
            answer, decision = _unknown_namespace(request)
        else:
            answer, decision = self._judge(request, self.namespace_policy(labels), today)
        return answer.render(request.uid), decision

    def _judge(self, request: Request, ns: NamespacePolicy, today: date | None) -> tuple[Response, Decision]:
        """Evaluate the namespace's modes and decide: enforce (deny), audit, warn."""
        obj = request.obj
        namespace = request.namespace or ""
        exemptible = self.exemptible(namespace, ns) if self.config.annotation_exemptions.enabled else None
        r = Review(obj, ns, today, exemptible, {}, [], request.printable)
        audit: dict[str, str] = {}
        warnings: list[str] = [clean(f"podsec: {e}", MAX_WARNING_RUNES) for e in ns.errors]
        ignored = self._ignored_exemption(request, exemptible)
        if ignored:
            warnings.append(f"podsec: {ignored}")
        if request.is_pod:
            audit["enforce-policy"] = str(ns.enforce)
        if (request.is_pod or self.config.enforce_workloads) and ns.enforce.active:
            outcome = self._evaluate(r, ns.enforce)
            if outcome.error or outcome.failing:
                return _deny(request, outcome, r, audit, ignored), Decision(False, "enforce", str(ns.enforce))
        return self._admit(r, audit, warnings)

    def _admit(self, r: Review, audit: dict[str, str], warnings: list[str]) -> tuple[Response, Decision]:
        """The answer to a review enforce let through: audit annotations and warnings."""
        ns = r.ns
        if ns.audit.active:
            _audit(self._evaluate(r, ns.audit), audit)
        if ns.warn.active:
            warnings += _warnings(self._evaluate(r, ns.warn))
        if any(outcome.used or outcome.notes for outcome in r.memo.values()):
            warnings = _record_exemptions(r, audit, warnings)
        warnings = list(dict.fromkeys(warnings))[:MAX_WARNINGS]
        mode = "warn" if warnings else "allow"
        return Response(True, warnings=warnings, audit=audit), Decision(True, mode, str(ns.warn))

    def _ignored_exemption(self, request: Request, exemptible: frozenset[str] | None) -> str:
        """The note for an exemption annotation asked for where annotation exemptions are off ("": none)."""
        if exemptible is not None:
            return ""
        meta = request.obj.get("metadata")
        own = meta.get("annotations") if isinstance(meta, dict) else None
        asks = isinstance(own, dict) and EXEMPT in own
        if asks or (not request.is_pod and self._template_asks_for_exemption(request.obj)):
            return f"{EXEMPT} is ignored: annotation exemptions are off in this namespace"
        return ""

    def _template_asks_for_exemption(self, obj: Mapping[str, Any]) -> bool:
        """Whether a workload's pod template carries podsec.io/exempt."""
        for src in self.config.kinds.pod_sources(obj):
            for path in src.metadata:
                notes = get_path(obj, (*path, "annotations"))
                if isinstance(notes, dict) and EXEMPT in notes:
                    return True
        return False

    def _exemption(self, request: Request, namespace: str) -> str | None:
        cfg = self.config
        if namespace in cfg.exempt_namespaces:
            return "namespace"
        if request.username in cfg.exempt_usernames:
            return "user"
        obj = request.obj
        if cfg.exempt_runtime_classes:
            for src in cfg.kinds.pod_sources(obj):
                runtime_class = get_path(obj, (*src.layers[0], "runtimeClassName"))
                if isinstance(runtime_class, str) and runtime_class in cfg.exempt_runtime_classes:
                    return "runtimeClass"
        return None

    def mutate(
        self, request: Request, labels: Mapping[str, str] | None, *, namespace_known: bool = True
    ) -> tuple[dict[str, Any], Decision]:
        """The mutating answer: safe defaults as a JSON Patch, only for Pod CREATE in namespaces that ask."""
        obj = request.obj
        if (
            request.resource != "pods"
            or request.subresource
            or request.operation != "CREATE"
            or not isinstance(obj, dict)
            or not namespace_known
            or self._exemption(request, request.namespace or "")
        ):
            return response(request.uid, True), Decision(True, "skip")
        ns = policy_for(labels, self.config.defaults, mutate_default=self.config.mutate_default)
        if not ns.mutate:
            return response(request.uid, True), Decision(True, "skip", "mutation not enabled for the namespace")
        try:
            ops = mutate.patch_for(obj)
        except mutate.TooLarge:
            note = f"the patch would take more than {mutate.MAX_PATCH_OPS} operations"
            body = response(
                request.uid, True, warnings=[f"podsec: not mutated: {note}"], auditAnnotations={"unmutated": note}
            )
            return body, Decision(True, "skip", note)
        if not ops:
            return response(request.uid, True), Decision(True, "allow")
        mutated = {"mutated": ", ".join(op["path"] for op in ops)[:MAX_AUDIT_VALUE]}
        patched = Response(True, patch=mutate.encode(ops), audit=mutated)
        return patched.render(request.uid), Decision(True, "mutate", f"{len(ops)} operations")


def _unknown_namespace(request: Request) -> tuple[Response, Decision]:
    """The namespace's labels could not be read: like PSA, a pod fails closed, a workload open."""
    namespace = request.namespace or ""
    if request.is_pod:
        status = {"code": 500, "reason": "InternalError", "status": "Failure",
                  "message": f'podsec: failed to look up namespace "{namespace}"'}  # fmt: skip
        return Response(False, status=status), Decision(False, "error", "namespace lookup failed")
    notes = {"error": f'failed to look up namespace "{namespace}"'}
    return Response(True, audit=notes), Decision(True, "error", "namespace lookup failed")


def classify(request: Request, kinds: KindTable) -> str | None:
    """Why PSA would not review this request at all (None: it is reviewed). Pods are reviewed on
    CREATE, on UPDATEs that change what matters and on the ephemeralcontainers subresource;
    other objects that carry a pod on CREATE and on UPDATEs that change their pod template."""
    obj, subresource, operation = request.obj, request.subresource, request.operation
    if request.resource == "pods" and subresource in IGNORED_POD_SUBRESOURCES:
        return f"subresource {subresource}"
    if operation not in ("CREATE", "UPDATE") or not isinstance(obj, dict):
        return f"operation {operation}"
    if request.is_pod:
        if operation == "UPDATE" and not subresource and not significant_pod_update(obj, request.old):
            return "insignificant pod update"
        return None
    if subresource or not kinds.pod_sources(obj):
        return "not a pod-bearing object"
    old = request.old
    if operation == "UPDATE" and isinstance(old, dict) and _template(obj, kinds) == _template(old, kinds):
        return "pod template unchanged"
    return None


def _deny(request: Request, outcome: Outcome, r: Review, audit: dict[str, str], ignored: str) -> Response:
    """The enforce mode's denial: PSA's message (bounded), the exemptions used in the audit annotations."""
    text = f"cannot evaluate the object: {outcome.error}" if outcome.error else outcome.text(False)
    name = request.name or ""
    if len(name) > 256 or not name.isprintable():
        name = clean(name, 256)
    what = f'{request.resource} "{name}"' if name else request.resource
    note = f" ({ignored})" if ignored else ""
    message = f"{what} is forbidden: {text}{note}"  # text: bounded and clean already
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - len(note) - 1] + "\u2026" + note
    status = {"code": 403, "reason": "Forbidden", "status": "Failure", "message": message}
    if outcome.used:
        _record_exemptions(r, audit, None)
    # Like PSA: no violations annotation; the audit event records the denial's message.
    return Response(False, status=status, audit=audit)


def _audit(outcome: Outcome, audit: dict[str, str]) -> None:
    if outcome.error:
        audit["audit-error"] = clean(outcome.error, MAX_AUDIT_VALUE)
    elif outcome.failing:
        audit["audit-violations"] = clean(outcome.text(True), MAX_AUDIT_VALUE)


def _warnings(outcome: Outcome) -> list[str]:
    if outcome.error:
        return [clean(f"podsec could not evaluate the object: {outcome.error}", MAX_WARNING_RUNES)]
    return outcome.warnings()
