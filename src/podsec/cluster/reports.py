"""PolicyReports written back into the cluster (``podsec audit --write-reports``, the monitor).

One ``wgpolicyk8s.io/v1alpha2`` PolicyReport per reported object (a top-level owner, or a pod
that differs from its owner's template), named after its uid, with the object as ``scope`` and
as owner reference, so the garbage collector deletes the report with the object; never one per
ReplicaSet revision or per managed pod. Each report stays under `MAX_REPORT_BYTES` whatever the
object: passing results go first, then messages are clipped shorter, then the least severe
failures are left out — the summary still counts every result, and the report says what it left
out. A readiness summary per namespace (``podsec-readiness``) has one result per Pod Security
level. Reports are server-side applied with field manager ``podsec`` (only what changed is
stored again), a few at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import orjson

from podsec.cluster.api import Api, ClusterError, collection_path
from podsec.cluster.audit import Outcome, Reported
from podsec.cluster.readiness import Readiness
from podsec.findings import ObjectResult
from podsec.model.standards import Level
from podsec.reporters.base import RunInfo, severity_rank
from podsec.reporters.policyreport import CLUSTER_SCOPED, Results, summarize

GROUP, VERSION = "wgpolicyk8s.io", "v1alpha2"
API_VERSION = f"{GROUP}/{VERSION}"
FIELD_MANAGER = "podsec"
MANAGED_BY = {"app.kubernetes.io/managed-by": "podsec"}
READINESS_NAME = "podsec-readiness"
MAX_REPORT_BYTES = 512 * 1024
"""A written report's JSON, at most: half of the 1 MiB the issue allows, a third of etcd's 1.5 MiB."""
SHORT_MESSAGE = 256  # characters of a message when a report must shrink
WRITERS = 4  # reports applied at once


def report_name(uid: str) -> str:
    return f"podsec-{uid}"


def _scope(result: ObjectResult, uid: str) -> dict[str, Any]:
    o = result.object
    scope = {"apiVersion": o.api_version, "kind": o.kind, "name": o.name, "uid": uid}
    if o.namespace:
        scope["namespace"] = o.namespace
    return scope


def _size(obj: Any) -> int:
    return len(orjson.dumps(obj))


def bounded(results: list[dict[str, Any]], budget: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """``results`` cut down to ``budget`` bytes of JSON, and what was left out (as properties):
    first the passes, then the messages' length, then the least severe results."""
    if _size(results) <= budget:
        return results, {}
    left: dict[str, str] = {}
    passes = [r for r in results if r["result"] == "pass"]
    kept = [r for r in results if r["result"] != "pass"]
    if passes:
        left["passesLeftOut"] = str(len(passes))
    if _size(kept) > budget:
        _clip_messages(kept)
        left["messagesClipped"] = "true"
    if _size(kept) > budget:
        fits = _most_severe(kept, budget)
        left["resultsLeftOut"] = str(len(kept) - len(fits))
        kept = fits
    return kept, left


def _clip_messages(results: list[dict[str, Any]]) -> None:
    """Shorten every long message and property to `SHORT_MESSAGE` characters, in place."""
    for r in results:
        message = r.get("message")
        if isinstance(message, str) and len(message) > SHORT_MESSAGE:
            r["message"] = message[:SHORT_MESSAGE] + "… (clipped: the report had to stay small)"
        props = r.get("properties") or {}
        for key, value in list(props.items()):
            if len(value) > SHORT_MESSAGE:
                props[key] = value[:SHORT_MESSAGE] + "…"


def _most_severe(results: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """The most severe of ``results`` that fit in ``budget`` bytes of JSON (``results`` is sorted so, in place)."""
    results.sort(key=lambda r: severity_rank(str(r.get("severity") or "info")))
    total, fits = 2, []
    for r in results:
        n = _size(r) + 1
        if total + n > budget:
            break
        fits.append(r)
        total += n
    return fits


def object_report(made: Results, reported: Reported, *, passes: bool) -> dict[str, Any]:
    result = reported.result
    o = result.object
    namespace = None if o.kind in CLUSTER_SCOPED or not o.namespace else o.namespace
    results = []
    for check_id, check, status, found, reason in made.statuses(result):
        if status == "pass" and not passes:
            continue
        extra = {"exemption": reason or ""} if status == "skip" else {}
        results.append(made.result(check, check_id, status, result, found, extra, None))
    summary = summarize(results)
    if not passes:  # the summary counts the passes the report leaves out
        summary["pass"] = sum(1 for s in made.statuses(result) if s[2] == "pass")
    kept, left = bounded(results, MAX_REPORT_BYTES - 4096)
    meta: dict[str, Any] = {
        "name": report_name(reported.uid),
        "labels": {**MANAGED_BY, "podsec.io/report": "object"},
        "annotations": {"podsec.io/reported-as": reported.why, **{f"podsec.io/{k}": v for k, v in left.items()}},
        "ownerReferences": [
            {"apiVersion": o.api_version, "kind": o.kind, "name": o.name, "uid": reported.uid, "controller": False}
        ],
    }
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "PolicyReport" if namespace else "ClusterPolicyReport",
        "metadata": meta,
        "scope": _scope(result, reported.uid),
        "summary": summary,
        "results": kept,
    }


def readiness_report(r: Readiness, timestamp: dict[str, int]) -> dict[str, Any]:
    """One result per Pod Security level at the pinned version: pass when nothing blocks it."""
    results = []
    for level in (Level.BASELINE, Level.RESTRICTED):
        blockers = r.blockers.get(level, ())
        item: dict[str, Any] = {
            "policy": "podsec-readiness",
            "rule": f"{level}:{r.pinned}",
            "result": "fail" if blockers else "pass",
            "scored": True,
            "source": "podsec",
            "timestamp": timestamp,
            "category": "Pod Security readiness",
            "message": (
                f"{len(blockers)} object(s) would be denied at {level}: "
                + "; ".join(f"{b.ref}: {b.reason}" for b in blockers)
                if blockers
                else f"nothing running or templated here would be denied at {level}:{r.pinned}"
            ),
            "properties": {
                "enforced": f"{r.enforce.profile}:{r.enforce.version}",
                "enforceable": str(r.enforceable),
                "drift": str(r.drift).lower(),
            },
        }
        if blockers:
            item["severity"] = "high" if level.strictness <= r.enforced_level.strictness else "medium"
        results.append(item)
    kept, left = bounded(results, MAX_REPORT_BYTES - 4096)
    return {
        "apiVersion": API_VERSION,
        "kind": "PolicyReport",
        "metadata": {
            "name": READINESS_NAME,
            "namespace": r.namespace,
            "labels": {**MANAGED_BY, "podsec.io/report": "readiness"},
            "annotations": {
                "podsec.io/enforceable": str(r.enforceable),
                **({"podsec.io/command": r.command() or ""} if r.command() else {}),
                **{f"podsec.io/{k}": v for k, v in left.items()},
            },
        },
        "scope": {"apiVersion": "v1", "kind": "Namespace", "name": r.namespace},
        "summary": summarize(results),
        "results": kept,
    }


def _path(report: dict[str, Any]) -> str:
    meta = report["metadata"]
    plural = "policyreports" if report["kind"] == "PolicyReport" else "clusterpolicyreports"
    base = collection_path(GROUP, VERSION, plural, meta.get("namespace"))
    return f"{base}/{quote(meta['name'], safe='')}"


def apply(api: Api, report: dict[str, Any]) -> None:
    """Server-side apply ``report`` as field manager podsec (force: podsec owns its reports)."""
    api.request(
        "PATCH",
        _path(report),
        params={"fieldManager": FIELD_MANAGER, "force": "true"},
        body=orjson.dumps(report),
        content_type="application/apply-patch+yaml",
    )


def digest(report: dict[str, Any]) -> bytes:
    """What a report says, without its timestamps: the monitor writes a report only when it changes."""
    results = [{k: v for k, v in r.items() if k != "timestamp"} for r in report.get("results") or []]
    body = {**report, "results": results}
    return hashlib.blake2b(orjson.dumps(body, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


def served(api: Api) -> bool:
    """Whether the cluster serves PolicyReports (their CRD is installed)."""
    try:
        doc = api.get(f"/apis/{GROUP}/{VERSION}")
    except ClusterError:
        return False
    return any(r.get("name") == "policyreports" for r in doc.get("resources") or [])


def reports_of(outcome: Outcome, run: RunInfo, *, passes: bool) -> Iterator[dict[str, Any]]:
    made = Results(replace(run, passes=True))  # passes are counted even when left out
    for found in outcome.reported.values():
        for reported in found:
            yield object_report(made, reported, passes=passes)
    for r in outcome.readiness:
        if not r.exempt:
            yield readiness_report(r, made.timestamp)


def write_all(api: Api, reports: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Apply every report (a few at a time); what was written and what failed."""
    written, errors = 0, list[str]()

    def one(report: dict[str, Any]) -> str | None:
        try:
            apply(api, report)
        except ClusterError as exc:
            return f"{report['kind']} {report['metadata'].get('namespace', '')}/{report['metadata']['name']}: {exc}"
        return None

    with ThreadPoolExecutor(WRITERS, thread_name_prefix="podsec-report") as pool:
        for problem in pool.map(one, reports):
            if problem is None:
                written += 1
            elif len(errors) < 100:
                errors.append(problem)
            else:
                errors[-1] = f"... and more ({problem})"
    return {"written": written, "errors": errors}


def write(api: Api, outcome: Outcome, run: RunInfo, *, passes: bool) -> dict[str, Any]:
    if not served(api):
        return {
            "written": 0,
            "errors": [f"the cluster does not serve {API_VERSION} PolicyReports: install the PolicyReport CRD"],
        }
    return write_all(api, reports_of(outcome, run, passes=passes))
