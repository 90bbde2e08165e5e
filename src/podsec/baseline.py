"""Baseline files: the findings a repository has accepted, so that only new ones fail a run.

``podsec scan --update-baseline FILE`` writes every current finding; ``--baseline FILE``
(or ``baseline:`` in the config) then reports and fails only on findings not in it. Entries
are keyed by `fingerprint`, which does not depend on lines or on the order of files,
objects or list items; an entry no finding matches any more is *stale* and reported as such.
The file is YAML, one entry per finding, sorted, with what a reviewer needs to read it in a
diff (check, object, container, field, file); only the fingerprint (and a count, for
identical findings) is used for matching.

Input errors of files that exist (invalid YAML, a document that is not a Kubernetes object)
are recorded too, under ``errors``, keyed by the message without numbers (and counted): a
repository with broken files adopts podsec as it is, and a new broken file still fails the
run. A path that does not exist or an overlay that does not build is never accepted.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from podsec.findings import FileResult, Finding, InputError, fingerprint, stable_field

VERSION = 1
HEADER = """\
# podsec baseline: findings accepted when this file was written (podsec scan --update-baseline).
# podsec scan --baseline FILE reports and fails only on findings that are not listed here.
# Entries are matched by fingerprint, which does not depend on line numbers or file order;
# delete an entry to have its finding reported again.
"""


class BaselineError(Exception):
    pass


def _entry(f: Finding, base: str) -> dict[str, Any]:
    o = f.object
    obj = f"{o.kind} {o.namespace + '/' if o.namespace else ''}{o.name or '(unnamed)'}"
    entry: dict[str, Any] = {"fingerprint": fingerprint(f), "check": f.check.id, "object": obj}
    if f.pod:
        entry["pod"] = f.pod
    if f.container:
        entry["container"] = f.container
    entry["field"] = stable_field(f)
    if f.file and f.file != "-":
        entry["file"] = _shown(f.file, base)
    entry["message"] = f.message
    return entry


def _shown(file: str, base: str) -> str:
    rel = os.path.relpath(os.path.abspath(file), base)
    return (file if rel.startswith("..") else rel).replace(os.sep, "/")


def acceptable(e: InputError) -> bool:
    """Whether a baseline may accept an input error: one in a file that exists (not a missing path,
    an overlay that does not build, or standard input)."""
    return e.file is not None and e.file != "-" and os.path.isfile(e.file)


def error_fingerprint(e: InputError) -> str:
    """An input error's identity: its message without numbers (which name lines: "first defined on
    line 30"), never its file or line, as for findings: moving a file does not bring it back;
    identical errors are counted."""
    key = "\x1f".join(("input error", re.sub(r"\d+", "#", e.message)))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _counted(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per fingerprint, with a count for identical ones, sorted for a readable diff."""
    out: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e["fingerprint"] in out:
            out[e["fingerprint"]]["count"] = out[e["fingerprint"]].get("count", 1) + 1
        else:
            out[e["fingerprint"]] = e
    return sorted(out.values(), key=_order)


def render(findings: Iterable[Finding], path: str, errors: Iterable[InputError] = ()) -> str:
    """The baseline file's text for ``findings`` and input ``errors`` (sorted, identical ones counted once)."""
    base = os.path.dirname(os.path.abspath(path))
    data: dict[str, Any] = {"schemaVersion": VERSION, "findings": _counted(_entry(f, base) for f in findings)}
    accepted = [
        {"fingerprint": error_fingerprint(e), "file": _shown(e.file or "-", base), "message": e.message}
        for e in errors
        if acceptable(e)
    ]
    if accepted:
        data["errors"] = _counted(accepted)
    return HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000)


def _order(e: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        e.get("file", ""),
        e.get("object", ""),
        e.get("container", ""),
        e.get("check", ""),
        e.get("field", ""),
        e.get("message", ""),
        e["fingerprint"],
    )


def write(findings: Iterable[Finding], path: str, errors: Iterable[InputError] = ()) -> int:
    """Write the baseline atomically; the number of entries (a `BaselineError` when it cannot be written)."""
    text = render(findings, path, errors)
    tmp = f"{path}.podsec-tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise BaselineError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return text.count("\n- fingerprint: ")


@dataclass(slots=True)
class Baseline:
    """The accepted findings of a baseline file, matched as a run goes."""

    path: str
    entries: dict[str, Mapping[str, Any]]
    remaining: Counter[str] = field(default_factory=Counter)
    matched: int = 0
    read: set[str] = field(default_factory=set)  # the files of the results filtered (absolute)

    def _accepts(self, key: str) -> bool:
        if self.remaining[key] > 0:
            self.remaining[key] -= 1
            self.matched += 1
            return True
        return False

    def filter(self, result: FileResult) -> FileResult:
        """``result`` with the findings and input errors the baseline accepts moved to ``baselined``."""
        files = (result.file, *result.sources, *(o.file for o in result.objects))
        self.read.update(os.path.abspath(f) for f in files if f)
        objects = []
        for obj in result.objects:
            kept: list[Finding] = []
            accepted: list[Finding] = []
            for f in obj.findings:
                (accepted if self._accepts(fingerprint(f)) else kept).append(f)
            objects.append(replace(obj, findings=tuple(kept), baselined=tuple(accepted)) if accepted else obj)
        errors: list[InputError] = []
        accepted_errors: list[InputError] = []
        for e in result.errors:
            (accepted_errors if acceptable(e) and self._accepts(error_fingerprint(e)) else errors).append(e)
        return replace(result, objects=objects, errors=errors, baselined_errors=accepted_errors)

    def stale(self, checks: AbstractSet[str]) -> list[Mapping[str, Any]]:
        """Entries that no finding or input error of this run matched (fixed, or renamed) — among
        those this run could have matched: of a check it ran (``checks``; input errors always), in
        a file it read (that `filter` saw) or in one that no longer exists (deleted, or moved and
        its finding fixed)."""
        out: list[Mapping[str, Any]] = []
        base = os.path.dirname(os.path.abspath(self.path))
        for key, left in sorted(self.remaining.items()):
            entry = self.entries[key]
            file = entry.get("file")
            if "check" in entry and entry["check"] not in checks:
                continue
            where = os.path.abspath(os.path.join(base, file)) if isinstance(file, str) else None
            if where is not None and where not in self.read and os.path.exists(where):
                continue
            if left > 0:
                entry = dict(self.entries[key])
                if left != entry.get("count", 1):
                    entry["count"] = left
                out.append(entry)
        return out


def load(path: str) -> Baseline:
    data = _read(path)
    lists = ("findings", "errors")
    if not isinstance(data, dict) or not all(isinstance(data.get(k) or [], list) for k in lists):
        raise BaselineError(f"{path}: not a podsec baseline (expected schemaVersion and findings)")
    if data.get("schemaVersion", VERSION) != VERSION:
        raise BaselineError(f"{path}: baseline schemaVersion {data.get('schemaVersion')} is not supported")
    entries: dict[str, Mapping[str, Any]] = {}
    counts: Counter[str] = Counter()
    for where, e in ((f"{k}[{i}]", e) for k in lists for i, e in enumerate(data.get(k) or [])):
        key, count = _fingerprint(e)
        if key is None:
            raise BaselineError(f"{path}: {where}: expected a fingerprint (and optionally a count >= 1)")
        entries[key] = e
        counts[key] += count
    return Baseline(path, entries, counts)


def _read(path: str) -> Any:
    """The baseline file's YAML, parsed."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file (write one with --update-baseline {path})") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise BaselineError(f"{path}: invalid YAML: {exc}") from None


def _fingerprint(e: object) -> tuple[str | None, int]:
    """(fingerprint, count) of one entry; (None, 0) when it is not a valid one."""
    key = e.get("fingerprint") if isinstance(e, dict) else None
    count = e.get("count", 1) if isinstance(e, dict) else None
    if not isinstance(key, str) or not key or not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return None, 0
    return key, count
