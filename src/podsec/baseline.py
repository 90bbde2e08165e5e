"""Baseline files: the findings a repository has accepted, so that only new ones fail a run.

``podsec scan --update-baseline FILE`` writes every current finding; ``--baseline FILE``
(or ``baseline:`` in the config) then reports and fails only on findings not in it. Entries
are keyed by `fingerprint`, which does not depend on lines or on the order of files,
objects or list items; an entry no finding matches any more is *stale* and reported as such.
The file is YAML, one entry per finding, sorted, with what a reviewer needs to read it in a
diff (check, object, container, field, file); only the fingerprint (and a count, for
identical findings) is used for matching.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from podsec.findings import FileResult, Finding, fingerprint, stable_field

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
    entry: dict[str, Any] = {"fingerprint": fingerprint(f), "check": f.check, "object": obj}
    if f.pod:
        entry["pod"] = f.pod
    if f.container:
        entry["container"] = f.container
    entry["field"] = stable_field(f)
    if f.file and f.file != "-":
        rel = os.path.relpath(os.path.abspath(f.file), base)
        entry["file"] = (f.file if rel.startswith("..") else rel).replace(os.sep, "/")
    entry["message"] = f.message
    return entry


def render(findings: Iterable[Finding], path: str) -> str:
    """The baseline file's text for ``findings`` (sorted, identical findings counted once)."""
    base = os.path.dirname(os.path.abspath(path))
    entries: dict[str, dict[str, Any]] = {}
    for f in findings:
        e = _entry(f, base)
        if e["fingerprint"] in entries:
            entries[e["fingerprint"]]["count"] = entries[e["fingerprint"]].get("count", 1) + 1
        else:
            entries[e["fingerprint"]] = e
    ordered = sorted(entries.values(), key=_order)
    body = yaml.safe_dump(
        {"schemaVersion": VERSION, "findings": ordered}, sort_keys=False, allow_unicode=True, width=1_000_000
    )
    return HEADER + body


def _order(e: Mapping[str, Any]) -> tuple[str, ...]:
    return (e.get("file", ""), e["object"], e.get("container", ""), e["check"], e["field"], e["fingerprint"])


def write(findings: Iterable[Finding], path: str) -> int:
    """Write the baseline atomically; the number of entries (a `BaselineError` when it cannot be written)."""
    text = render(findings, path)
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

    def filter(self, result: FileResult) -> FileResult:
        """``result`` with the findings the baseline accepts moved to ``baselined``."""
        files = (result.file, *result.sources, *(o.file for o in result.objects))
        self.read.update(os.path.abspath(f) for f in files if f)
        objects = []
        for obj in result.objects:
            kept, accepted = [], []
            for f in obj.findings:
                key = fingerprint(f)
                if self.remaining[key] > 0:
                    self.remaining[key] -= 1
                    self.matched += 1
                    accepted.append(f)
                else:
                    kept.append(f)
            objects.append(replace(obj, findings=tuple(kept), baselined=tuple(accepted)) if accepted else obj)
        return replace(result, objects=objects)

    def stale(self, checks: AbstractSet[str]) -> list[Mapping[str, Any]]:
        """Entries that no finding of this run matched (fixed, or renamed) — among those this run
        could have matched: of a check it ran (``checks``), in a file it read (that `filter` saw)
        or in one that no longer exists (deleted, or moved and its finding fixed)."""
        out: list[Mapping[str, Any]] = []
        base = os.path.dirname(os.path.abspath(self.path))
        for key, left in sorted(self.remaining.items()):
            entry = self.entries[key]
            file = entry.get("file")
            if entry.get("check") not in checks:
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
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise BaselineError(f"{path}: no such baseline file (write one with --update-baseline {path})") from None
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise BaselineError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("findings", []), list):
        raise BaselineError(f"{path}: not a podsec baseline (expected schemaVersion and findings)")
    if data.get("schemaVersion", VERSION) != VERSION:
        raise BaselineError(f"{path}: baseline schemaVersion {data.get('schemaVersion')} is not supported")
    entries: dict[str, Mapping[str, Any]] = {}
    counts: Counter[str] = Counter()
    for i, e in enumerate(data.get("findings") or []):
        key = e.get("fingerprint") if isinstance(e, dict) else None
        count = e.get("count", 1) if isinstance(e, dict) else None
        if not isinstance(key, str) or not key or not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise BaselineError(f"{path}: findings[{i}]: expected a fingerprint (and optionally a count >= 1)")
        entries[key] = e
        counts[key] += count
    return Baseline(path, entries, counts)
