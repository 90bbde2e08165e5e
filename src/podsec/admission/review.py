"""The admission decision: an AdmissionReview in, the response out. Pure (no I/O, no clock).

Follows Pod Security Admission's behaviour (``k8s.io/pod-security-admission``):
Pods are enforced on CREATE, on UPDATEs that change what matters (container count or
images, ephemeral containers) and on the ``ephemeralcontainers`` subresource; other pod
subresources are ignored; workload objects get warn and audit only, unless the server is
configured to enforce on them too. Exempt usernames, runtime classes and namespaces skip
everything. podsec adds its profiles, Rego policies and exemptions.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import orjson

from podsec import engine
from podsec.admission import mutate
from podsec.admission.labels import DEFAULTS, ModePolicy, NamespacePolicy, policy_for
from podsec.checks import ALL_CHECKS
from podsec.checks._base import CheckLevel
from podsec.evaluate import Context, evaluate_object
from podsec.exemptions import Exemption
from podsec.findings import ObjectResult
from podsec.model.pod import get_path
from podsec.model.standards import Level
from podsec.model.workloads import KindTable
from podsec.rego.policies import PolicySet

IGNORED_POD_SUBRESOURCES = frozenset({"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"})
MAX_WARNINGS = 10
MAX_WARNING_RUNES = 256  # the API server truncates to this once a response's warnings pass 4096 runes
MAX_AUDIT_VALUE = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    exempt_usernames: frozenset[str] = frozenset()
    exempt_runtime_classes: frozenset[str] = frozenset()
    exempt_namespaces: frozenset[str] = frozenset()
    enforce_workloads: bool = False  # also deny workload objects (PSA only warns and audits)
    annotation_exemptions: bool = True
    exemptions: tuple[Exemption, ...] = ()
    policy_sets: Mapping[str, PolicySet] = field(default_factory=dict)
    kinds: KindTable = field(default_factory=KindTable)
    defaults: NamespacePolicy = DEFAULTS  # for namespaces without labels (PSA's "defaults")
    mutate_default: bool = False


class Decision(NamedTuple):
    """What happened, for logs and metrics (a tuple: made for every review, and cheap to make)."""

    allowed: bool
    mode: str  # enforce | warn | audit | exempt | skip | error
    reason: str = ""


class ReviewError(ValueError):
    """The request is not a usable AdmissionReview (answered with HTTP 400)."""


def clean(text: str, limit: int) -> str:
    """No control characters, at most ``limit`` characters (an ellipsis marks the cut)."""
    if not text.isprintable():
        text = _CONTROL.sub(" ", text)
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def parse(body: Any) -> Mapping[str, Any]:
    """The ``request`` of an ``admission.k8s.io/v1`` AdmissionReview, or ReviewError."""
    if not isinstance(body, dict):
        raise ReviewError("the body is not a JSON object")
    if body.get("apiVersion") != "admission.k8s.io/v1" or body.get("kind") != "AdmissionReview":
        got = f"{body.get('apiVersion')}/{body.get('kind')}"
        raise ReviewError(f"expected an admission.k8s.io/v1 AdmissionReview, got {got}")
    request = body.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("uid"), str) or not request["uid"]:
        raise ReviewError("the AdmissionReview has no request with a uid")
    if request.get("operation") not in ("CREATE", "UPDATE", "DELETE", "CONNECT"):
        raise ReviewError(f"unknown operation {request.get('operation')!r}")
    return request


def response(
    uid: str,
    allowed: bool,
    *,
    status: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    auditAnnotations: dict[str, str] | None = None,
    patch: str | None = None,
    patchType: str | None = None,
) -> dict[str, Any]:
    """An AdmissionReview response; empty fields are left out."""
    body: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if status:
        body["status"] = status
    if warnings:
        body["warnings"] = warnings
    if auditAnnotations:
        body["auditAnnotations"] = auditAnnotations
    if patch:
        body["patch"] = patch
        body["patchType"] = patchType
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": body}


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
    except TypeError:  # orjson.JSONEncodeError: integers beyond 64 bits (decoded by the json fallback)
        raw = repr(data).encode()
    # Small objects (nearly every pod) are their own key: exact, and cheaper than hashing them.
    return raw if len(raw) <= MAX_EXACT_KEY else hashlib.blake2b(raw, digest_size=20).digest()


_GOVERNANCE = CheckLevel.GOVERNANCE.value


class Outcome:
    """One evaluation for one mode's policy, and the texts made from it.

    Cached with the evaluation, so the pods of a template share the texts too.
    """

    __slots__ = ("_texts", "_warnings", "error", "failing", "mode", "result")

    def __init__(self, mode: ModePolicy, result: ObjectResult | None, error: str | None) -> None:
        self.mode, self.result, self.error = mode, result, error
        self.failing = tuple(f for f in result.findings if f.level != _GOVERNANCE) if result else ()
        self._texts: dict[bool, str] = {}
        self._warnings: list[str] | None = None

    def text(self, would: bool) -> str:
        """The violations in one line, PSA's aggregate where PSA would say it exactly."""
        if would not in self._texts:
            self._texts[would] = self._text(would)
        return self._texts[would]

    def _text(self, would: bool) -> str:
        mode, result = self.mode, self.result
        assert result is not None
        prefix = "would violate" if would else "violates"
        if mode.profile in ("baseline", "restricted") and not result.suppressed and result.verdicts:
            text = result.verdicts[0][1]  # PSA's own aggregate, exactly
            return text.replace("violates", prefix, 1) if would else text
        name = "PodSecurity" if mode.profile in ("baseline", "restricted") else "podsec"
        messages = ", ".join(dict.fromkeys(f.message for f in self.failing))
        return f'{prefix} {name} "{mode}": {messages}'

    def warnings(self) -> list[str]:
        """One warning per failing check, within the API server's limits (a fresh list)."""
        if self._warnings is None:
            self._warnings = self._make_warnings()
        return list(self._warnings)

    def _make_warnings(self) -> list[str]:
        mode = self.mode
        name = "PodSecurity" if mode.profile in ("baseline", "restricted") else "podsec"
        by_check: dict[str, list[str]] = {}
        for f in self.failing:
            by_check.setdefault(f.check, []).append(f.message)
        texts = [f'would violate {name} "{mode}": ' + "; ".join(dict.fromkeys(m)) for m in by_check.values()]
        texts = [clean(t, MAX_WARNING_RUNES) for t in texts]
        if len(texts) > MAX_WARNINGS:
            texts = [*texts[: MAX_WARNINGS - 1], f"... and {len(texts) - MAX_WARNINGS + 1} more violations"]
        return texts


class Reviewer:
    """Answers AdmissionReviews.

    Selected checks are cached per (profile, version, policy sets). Evaluations are cached
    too, keyed by what they read (`evaluation_key`) and everything else they depend on: the
    pods of one template differ only in name, uid and timestamps, so scaling a workload up
    or rolling out a DaemonSet costs one evaluation, not one per pod. The cache is bounded
    (LRU). Only an evaluation's messages are used from the cache, never its object's name.
    """

    EVALUATION_CACHE = 2048

    def __init__(self, config: WebhookConfig | None = None) -> None:
        self.config = config or WebhookConfig()
        self._contexts: dict[tuple[str, str, tuple[str, ...], date | None], Context] = {}
        self._evaluations: OrderedDict[tuple[Any, ...], Outcome] = OrderedDict()
        self._namespaces: dict[frozenset[tuple[str, str]], NamespacePolicy] = {}
        self._names_matter = any(e.name is not None for e in self.config.exemptions)
        self._last_namespace: tuple[dict[str, str], NamespacePolicy] | None = None

    def context(self, mode: ModePolicy, policy_sets: Sequence[str], today: date | None) -> Context:
        key = (mode.profile, str(mode.version), tuple(policy_sets), today)
        ctx = self._contexts.get(key)
        if ctx is None:
            level: Level | engine.Profile = engine.Profile(mode.profile)
            sets = [self.config.policy_sets[name] for name in policy_sets if name in self.config.policy_sets]
            policies = PolicySet([m for s in sets for m in s.modules]) if sets else None
            extra = policies.checks if policies else ()
            policy = engine.select(level, mode.version, checks=(*ALL_CHECKS, *extra))
            ctx = Context(
                policy,
                self.config.kinds,
                exemptions=self.config.exemptions,
                annotation_exemptions=self.config.annotation_exemptions,
                today=today,
                policies=policies,
            )
            if len(self._contexts) > 256:
                self._contexts.clear()
            self._contexts[key] = ctx
        return ctx

    def _evaluate(
        self,
        obj: Mapping[str, Any],
        mode: ModePolicy,
        ns: NamespacePolicy,
        today: date | None,
        memo: dict[str, Outcome],
        digest: list[bytes],
    ) -> Outcome:
        """One mode's evaluation; modes with the same policy share it."""
        name = str(mode)
        found = memo.get(name)
        if found is None:
            if not digest:
                policies = bool(ns.policies) and any(p in self.config.policy_sets for p in ns.policies)
                digest.append(
                    evaluation_key(obj, self.config.kinds, names_matter=self._names_matter, everything_matters=policies)
                )
            cache_key = (name, ns.policies, today, digest[0])
            found = self._evaluations.get(cache_key)
            if found is not None:
                self._evaluations.move_to_end(cache_key)
            else:
                outcome = evaluate_object(obj, self.context(mode, ns.policies, today), file=None)
                if isinstance(outcome, list):
                    found = Outcome(mode, None, "; ".join(e.message for e in outcome))
                else:
                    found = Outcome(mode, outcome, None)
                self._evaluations[cache_key] = found
                while len(self._evaluations) > self.EVALUATION_CACHE:
                    self._evaluations.popitem(last=False)
            memo[name] = found
        return found

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
        request: Mapping[str, Any],
        labels: Mapping[str, str] | None,
        *,
        namespace_known: bool = True,
        today: date | None = None,
    ) -> tuple[dict[str, Any], Decision]:
        """The AdmissionReview response for ``request`` (already `parse`d) and what was decided."""
        uid = request["uid"]
        resource = (request.get("resource") or {}).get("resource", "")
        subresource = request.get("subResource") or ""
        operation = request.get("operation")
        obj = request.get("object")
        is_pod = resource == "pods" and (request.get("kind") or {}).get("kind") == "Pod"
        if resource == "pods" and subresource in IGNORED_POD_SUBRESOURCES:
            return response(uid, True), Decision(True, "skip", f"subresource {subresource}")
        if operation not in ("CREATE", "UPDATE") or not isinstance(obj, dict):
            return response(uid, True), Decision(True, "skip", f"operation {operation}")
        if not is_pod:
            if subresource or not self.config.kinds.pod_sources(obj):
                return response(uid, True), Decision(True, "skip", "not a pod-bearing object")
            old = request.get("oldObject")
            if (
                operation == "UPDATE"
                and isinstance(old, dict)
                and _template(obj, self.config.kinds) == _template(old, self.config.kinds)
            ):
                return response(uid, True), Decision(True, "skip", "pod template unchanged")
        elif operation == "UPDATE" and not subresource and not significant_pod_update(obj, request.get("oldObject")):
            return response(uid, True), Decision(True, "skip", "insignificant pod update")

        namespace = request.get("namespace") or ""
        exempt = self._exemption(request, obj, namespace)
        if exempt:
            return response(uid, True, auditAnnotations={"exempt": exempt}), Decision(True, "exempt", exempt)
        if not namespace_known:
            if is_pod:  # PSA: fail closed for pods, open for workloads
                status = {"code": 500, "reason": "InternalError", "status": "Failure",
                          "message": f'podsec: failed to look up namespace "{namespace}"'}  # fmt: skip
                return response(uid, False, status=status), Decision(False, "error", "namespace lookup failed")
            notes = {"error": f'failed to look up namespace "{namespace}"'}
            return response(uid, True, auditAnnotations=notes), Decision(True, "error", "namespace lookup failed")

        ns = self.namespace_policy(labels)
        memo: dict[str, Outcome] = {}
        digest: list[bytes] = []
        audit: dict[str, str] = {}
        warnings: list[str] = [clean(f"podsec: {e}", MAX_WARNING_RUNES) for e in ns.errors]
        if is_pod:
            audit["enforce-policy"] = str(ns.enforce)
        enforcing = is_pod or self.config.enforce_workloads
        if enforcing and ns.enforce.active:
            outcome = self._evaluate(obj, ns.enforce, ns, today, memo, digest)
            if outcome.error or outcome.failing:
                text = f"cannot evaluate the object: {outcome.error}" if outcome.error else outcome.text(False)
                name = request.get("name") or ""
                what = f'{resource} "{name}"' if name else resource
                status = {
                    "code": 403,
                    "reason": "Forbidden",
                    "status": "Failure",
                    "message": f"{what} is forbidden: {text}",
                }
                # Like PSA: no violations annotation; the audit event records the denial's message.
                return (
                    response(uid, False, status=status, auditAnnotations=audit),
                    Decision(False, "enforce", str(ns.enforce)),
                )
        if ns.audit.active:
            outcome = self._evaluate(obj, ns.audit, ns, today, memo, digest)
            if outcome.error:
                audit["audit-error"] = clean(outcome.error, MAX_AUDIT_VALUE)
            elif outcome.failing:
                audit["audit-violations"] = clean(outcome.text(True), MAX_AUDIT_VALUE)
        if ns.warn.active:
            outcome = self._evaluate(obj, ns.warn, ns, today, memo, digest)
            if outcome.error:
                warnings.append(clean(f"podsec could not evaluate the object: {outcome.error}", MAX_WARNING_RUNES))
            else:
                warnings += outcome.warnings()
        warnings = list(dict.fromkeys(warnings))[:MAX_WARNINGS]
        mode = "warn" if warnings else "allow"
        return response(uid, True, warnings=warnings, auditAnnotations=audit), Decision(True, mode, str(ns.warn))

    def _exemption(self, request: Mapping[str, Any], obj: Mapping[str, Any], namespace: str) -> str | None:
        cfg = self.config
        if namespace in cfg.exempt_namespaces:
            return "namespace"
        if (request.get("userInfo") or {}).get("username") in cfg.exempt_usernames:
            return "user"
        if cfg.exempt_runtime_classes:
            for src in cfg.kinds.pod_sources(obj):
                runtime_class = get_path(obj, (*src.layers[0], "runtimeClassName"))
                if isinstance(runtime_class, str) and runtime_class in cfg.exempt_runtime_classes:
                    return "runtimeClass"
        return None

    def mutate(
        self, request: Mapping[str, Any], labels: Mapping[str, str] | None, *, namespace_known: bool = True
    ) -> tuple[dict[str, Any], Decision]:
        """The mutating answer: safe defaults as a JSON Patch, only for Pod CREATE in namespaces that ask."""
        uid = request["uid"]
        obj = request.get("object")
        resource = (request.get("resource") or {}).get("resource", "")
        if (
            resource != "pods"
            or request.get("subResource")
            or request.get("operation") != "CREATE"
            or not isinstance(obj, dict)
            or not namespace_known
            or self._exemption(request, obj, request.get("namespace") or "")
        ):
            return response(uid, True), Decision(True, "skip")
        ns = policy_for(labels, self.config.defaults, mutate_default=self.config.mutate_default)
        if not ns.mutate:
            return response(uid, True), Decision(True, "skip", "mutation not enabled for the namespace")
        ops = mutate.patch_for(obj)
        if not ops:
            return response(uid, True), Decision(True, "allow")
        patched = response(uid, True, patch=mutate.encode(ops), patchType="JSONPatch")
        patched["response"]["auditAnnotations"] = {"mutated": ", ".join(op["path"] for op in ops)[:MAX_AUDIT_VALUE]}
        return patched, Decision(True, "mutate", f"{len(ops)} operations")
