"""``wgpolicyk8s.io/v1alpha2`` PolicyReports, so results can live in a cluster beside Kyverno's.

One ``PolicyReport`` per namespace, one ``ClusterPolicyReport`` for cluster-scoped
objects; a result per object and check evaluated: ``fail`` (with every message),
``pass``, or ``skip`` for an exempted check. Objects whose manifest names no
namespace are reported in ``default`` (where ``kubectl apply`` would put them without
``-n``), with the property ``namespace: unspecified``. The output is YAML documents,
ready for ``kubectl apply -f``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any, TextIO, cast

from podsec.checks import Rule
from podsec.findings import Finding, ObjectResult, Summary
from podsec.model.paths import format_path
from podsec.reporters.base import CATEGORY, MAX_MESSAGE_CHARS, Collecting, RunInfo, clip, evaluated, relative
from podsec.textsafe import json_dumps

CLUSTER_SCOPED = frozenset(
    {
        "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
        "StorageClass", "PriorityClass", "RuntimeClass", "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration", "APIService", "CSIDriver", "IngressClass", "ClusterWorkflowTemplate",
    }
)  # fmt: skip
STATUSES = ("pass", "fail", "warn", "error", "skip")


def _resource(obj: ObjectResult, namespace: str | None) -> dict[str, Any]:
    o = obj.object
    ref = {"apiVersion": o.api_version, "kind": o.kind, "name": o.name}
    if namespace:
        ref["namespace"] = namespace
    return ref


class Results:
    """Makes the ``results[]`` items of a run's reports (each check's parts are made once)."""

    def __init__(self, run: RunInfo) -> None:
        self._run = run
        self.timestamp = {"seconds": int(run.started), "nanos": 0}  # one object: rendered once
        self._files: dict[str | None, str | None] = {}
        self._pass_parts: dict[str, tuple[str, str, int]] = {}
        self.by_id = {c.id: c for c in run.checks}

    def result(self, check: Rule | None, check_id: str, status: str, obj: ObjectResult | None,
               found: list[Finding], extra: dict[str, str], resources: list[dict[str, Any]] | None,
               limit: int = MAX_MESSAGE_CHARS) -> dict[str, Any]:  # fmt: skip
        """One result; ``resources`` None leaves them out (a report whose scope is the object)."""
        level = check.level.value if check else (found[0].level if found else "policy")
        result: dict[str, Any] = {
            "policy": f"podsec-{level}",
            "rule": check_id,
            "result": status,
            "scored": True,
            "source": "podsec",
            "timestamp": self.timestamp,
        }
        if resources is not None:
            result["resources"] = resources  # one list per object, shared by its results (rendered once)
        severity = _severity(check, found)
        if severity is not None:
            result["severity"] = severity
        if check is not None:
            result["category"] = CATEGORY[check.level]
        message = _message(check, found, limit)
        if message is not None:
            result["message"] = message
        props = _finding_properties(found, extra, limit)
        file = self._relative(obj.file) if obj is not None else None
        if file:
            props["file"] = file
        result["properties"] = {k: v for k, v in props.items() if v}
        return result

    def _relative(self, file: str | None) -> str | None:
        if file not in self._files:
            self._files[file] = relative(file, self._run.base_dir)
        return self._files[file]

    def pass_text(self, check: Rule | None, check_id: str, resources: str, props: str) -> tuple[str, int]:
        """A passing result as YAML (most of a report) and its size as JSON, from the check's
        parts (made once) and the object's."""
        parts = self._pass_parts.get(check_id)
        if parts is None:
            sample = self.result(check, check_id, "pass", None, [], {}, [])
            text = _result_text(sample, {})
            head, _, tail = text.partition("  resources: []\n")
            size = len(json.dumps(sample).encode()) - len("[]") - len("{}")
            parts = self._pass_parts[check_id] = (head + "  resources:\n", tail.rpartition("  properties:")[0], size)
        return parts[0] + resources + parts[1] + props, parts[2]

    def statuses(self, obj: ObjectResult) -> Iterator[tuple[str, Rule | None, str, list[Finding], str | None]]:
        """(check id, check, result, its findings, exemption reason) for each check evaluated on
        ``obj`` and each that failed, in report order; passes only when the run includes them."""
        failing: dict[str, list[Finding]] = {}
        for f in obj.findings:
            failing.setdefault(f.check.id, []).append(f)
        skipped = {s.finding.check.id: s for s in obj.suppressed}
        ids = evaluated(self._run, obj)
        for check_id in [*ids, *(c for c in failing if c not in ids)]:
            check = self.by_id.get(check_id)
            if check_id in failing:
                yield check_id, check, "fail", failing[check_id], None
            elif check_id in skipped:
                yield check_id, check, "skip", [], skipped[check_id].exemption.reason
            elif self._run.passes:
                yield check_id, check, "pass", [], None


_SCHEMA_SEVERITIES = ("critical", "high", "medium", "low", "info")


def _severity(check: Rule | None, found: list[Finding]) -> str | None:
    """The result's severity as the schema knows them, None for one it does not."""
    severity = found[0].severity if found else (check.severity.value if check else "medium")
    if severity in _SCHEMA_SEVERITIES:
        return severity
    return "critical" if severity == "error" else None  # no "error" severity: the API would reject the pod


def _message(check: Rule | None, found: list[Finding], limit: int) -> str | None:
    if found:
        return clip("; ".join(f.message for f in found), limit)
    return check.title if check is not None else None


def _finding_properties(found: list[Finding], extra: dict[str, str], limit: int) -> dict[str, str]:
    """``extra``, and where the findings are: their fields, containers and first line."""
    props = dict(extra)
    if not found:
        return props
    props["field"] = clip(", ".join(dict.fromkeys(format_path(f.field) for f in found if f.field)), limit)
    containers = clip(", ".join(dict.fromkeys(f.container for f in found if f.container)), limit)
    if containers:
        props["container"] = containers
    props["line"] = str(found[0].line or "")
    return props


class PolicyReportReporter(Collecting):
    def __init__(self, out: TextIO, run: RunInfo) -> None:
        super().__init__(out, run)
        self._results = Results(run)

    def finish(self, summary: Summary) -> None:
        reports: dict[str | None, list[dict[str, Any]]] = {}
        texts: dict[int, tuple[str, int]] = {}  # id of a passing result -> its YAML and JSON size
        rendered: dict[int, tuple[Any, str, str]] = {}
        for obj in self._seen.objects:
            self._add(obj, reports, texts, rendered)
        for doc in _documents(reports, texts):
            items = cast(list[dict[str, Any]], doc.pop("results"))
            self._out.write(f"---\n{''.join(_yaml(doc, '', '', rendered))}")
            body = "".join(texts[id(r)][0] if id(r) in texts else _result_text(r, rendered) for r in items)
            self._out.write("results:\n" + body if items else "results: []\n")

    def _add(
        self,
        obj: ObjectResult,
        reports: dict[str | None, list[dict[str, Any]]],
        texts: dict[int, tuple[str, int]],
        rendered: dict[int, tuple[Any, str, str]],
    ) -> None:
        """``obj``'s results, in the report of its namespace; a passing result stands for its text in ``texts``."""
        make = self._results
        cluster = obj.object.kind in CLUSTER_SCOPED
        namespace = None if cluster else (obj.object.namespace or "default")
        extra = {} if cluster or obj.object.namespace else {"namespace": "unspecified"}
        results = reports.setdefault(namespace, [])
        res = [_resource(obj, namespace)]
        passing: tuple[str, str, int] | None = None  # the object's part of its passing results
        for check_id, check, status, found, reason in make.statuses(obj):
            if status != "pass":
                more = extra if status == "fail" else {**extra, "exemption": reason or ""}
                results.append(make.result(check, check_id, status, obj, found, more, res))
                continue
            if passing is None:
                props = make.result(check, check_id, "pass", obj, [], extra, res)["properties"]
                passing = (
                    "".join(_yaml(res, "  ", "  ", rendered)),
                    _result_text({"properties": props}, rendered).replace("- ", "  ", 1),
                    len(json.dumps(res).encode()) + len(json.dumps(props).encode()),
                )
            r = {"result": "pass"}  # stands for the result: its text and size are known
            text, size = make.pass_text(check, check_id, passing[0], passing[1])
            texts[id(r)] = (text, size + passing[2])
            results.append(r)


def _documents(
    reports: dict[str | None, list[dict[str, Any]]], texts: dict[int, tuple[str, int]]
) -> list[dict[str, Any]]:
    """The report objects: the cluster's first, then a namespace's each, split to stay under MAX_OBJECT_BYTES."""
    docs = []
    for namespace in sorted(reports, key=lambda n: (n is not None, n or "")):
        chunks = _split(reports[namespace], MAX_OBJECT_BYTES, texts)
        for i, results in enumerate(chunks):
            name = "podsec" if len(chunks) == 1 else f"podsec-{i + 1}"
            meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": "podsec"}}
            if namespace is not None:
                meta["namespace"] = namespace
            docs.append(
                {
                    "apiVersion": "wgpolicyk8s.io/v1alpha2",
                    "kind": "PolicyReport" if namespace is not None else "ClusterPolicyReport",
                    "metadata": meta,
                    "summary": summarize(results),
                    "results": results,
                }
            )
    return docs


def summarize(results: list[dict[str, Any]]) -> dict[str, int]:
    return {s: sum(1 for r in results if r["result"] == s) for s in STATUSES}


MAX_OBJECT_BYTES = 240 * 1024
"""No report object is larger than this as JSON (what the API server stores): far below etcd's
1.5 MiB, and small enough for ``kubectl apply``, which copies the whole object into its
last-applied-configuration annotation (the API server allows 256 KiB of annotations)."""
_OVERHEAD = 2048  # apiVersion, kind, metadata and summary of one report


def _split(
    results: list[dict[str, Any]], limit: int, known: dict[int, tuple[str, int]] | None = None
) -> list[list[dict[str, Any]]]:
    """``results`` in consecutive chunks whose report objects stay under ``limit`` bytes."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = _OVERHEAD
    for r in results:
        known_size = known.get(id(r)) if known else None
        n = (known_size[1] if known_size else len(json.dumps(r).encode())) + 2  # as spaced JSON
        if chunks[-1] and size + n > limit:
            chunks.append([])
            size = _OVERHEAD
        chunks[-1].append(r)
        size += n
    return chunks


def _result_text(result: dict[str, Any], rendered: dict[int, tuple[Any, str, str]]) -> str:
    """One result as a list item (the bulk of a report, so written directly: keys are plain)."""
    parts = []
    lead = "- "
    for key, value in result.items():
        if isinstance(value, dict | list) and value:
            parts.append(f"{lead}{key}:\n")
            parts.extend(
                _yaml(
                    value,
                    "    " if isinstance(value, dict) else "  ",
                    "    " if isinstance(value, dict) else "  ",
                    rendered,
                )
            )
        else:
            parts.append(f"{lead}{key}: {_flow_empty(value)}\n")
        lead = "  "
    return "".join(parts)


# A string that YAML 1.1 reads back as that string when written plain: no indicator first, no
# ": " or " #" inside, and not a boolean, null or number. Anything else is double-quoted
# with JSON escapes (valid YAML), which also keeps control characters out of the file.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./()=,\[\]\-]*(?: [A-Za-z0-9_./()=,\[\]\-]+)*")
_RESERVED = re.compile(r"(?i:y|n|yes|no|on|off|true|false|null)")


@functools.lru_cache(maxsize=4096)
def _text(text: str) -> str:
    if _PLAIN.fullmatch(text) and not _RESERVED.fullmatch(text):
        return text
    return json_dumps(text)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return _text(str(value))


def _yaml(value: Any, indent: str, first: str, rendered: dict[int, tuple[Any, str, str]]) -> Iterator[str]:
    """Block-style YAML lines for a report (mappings, lists and scalars); ``first`` prefixes
    the first line (a list item's ``- ``), ``indent`` the others. Written by hand: PyYAML's
    pure-Python emitter cost 30 times the scan. Values seen before at the same indentation
    come from ``rendered``."""
    if isinstance(value, dict | list) and first == indent:
        cached = rendered.get(id(value))
        if cached is not None and cached[0] is value and cached[1] == indent:
            yield cached[2]
            return
        text = "".join(_lines(value, indent, first, rendered))
        rendered[id(value)] = (value, indent, text)  # the value is kept, so its id is not reused
        yield text
        return
    yield from _lines(value, indent, first, rendered)


def _lines(value: Any, indent: str, first: str, rendered: dict[int, tuple[Any, str, str]]) -> Iterator[str]:
    if isinstance(value, dict):
        if not value:
            yield f"{first}{{}}\n"
            return
        lead = first
        for key, item in value.items():
            name = _scalar(key)
            if (isinstance(item, dict) and item) or (isinstance(item, list) and item):
                yield f"{lead}{name}:\n"
                nested = indent + "  " if isinstance(item, dict) else indent
                yield from _yaml(item, nested, nested, rendered)
            else:
                yield f"{lead}{name}: {_flow_empty(item)}\n"
            lead = indent
    elif isinstance(value, list):
        if not value:
            yield f"{first}[]\n"
            return
        lead = first
        for item in value:
            yield from _yaml(item, indent + "  ", lead + "- ", rendered)
            lead = indent
    else:
        yield f"{first}{_scalar(value)}\n"


def _flow_empty(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)
