"""`podsec test DIR`: policy test suites, in the spirit of `kyverno test` and `gator verify`.

A suite is a file named ``podsec-test.yaml`` anywhere under DIR::

    policies: [../security-context.rego]     # files or directories, relative to this file
    cases:
      - name: nginx without any securityContext
        manifest: nginx-bad.yaml               # relative to this file; may hold several objects
        expect:                                # exactly these policy findings, in any order
          - check: magalix.advisor.podSecurity.securityContext.violation
            object: Deployment/nginx-deployment          # optional: Kind/name
            message: "securityContext for your spec"     # optional: a substring of the message
            container: nginx                              # optional
      - name: nginx with both securityContexts
        manifest: nginx-good.yaml
        expect: []                             # no policy finding at all

Only the policies' findings are compared (built-in checks do not run), and each
expectation must match a different finding: a case passes when every expectation
is met and no finding is left over.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from podsec import engine, explain, kyaml
from podsec.evaluate import Context
from podsec.findings import Finding
from podsec.model.standards import PolicyVersion, Profile
from podsec.model.workloads import KindTable
from podsec.pipeline import scan_target
from podsec.rego import policies as rego
from podsec.rego.engine import RegoError
from podsec.sources.files import Target

SUITE = "podsec-test.yaml"


class SuiteError(Exception):
    """A suite file that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    suite: str
    case: str
    passed: bool
    problems: tuple[str, ...]


def find_suites(root: str) -> list[str]:
    if os.path.isfile(root):
        return [root]
    found = []
    for base, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(base, f) for f in files if f == SUITE]
    return sorted(found)


def _matches(expect: Mapping[str, Any], f: Finding) -> bool:
    if expect.get("check") != f.check.id:
        return False
    obj = expect.get("object")
    if obj is not None and obj != f"{f.object.kind}/{f.object.name}":
        return False
    if "message" in expect and str(expect["message"]) not in f.message:
        return False
    return "container" not in expect or expect["container"] == f.container


def _describe(f: Finding) -> str:
    where = f" container {f.container}" if f.container else ""
    return f"{f.check.id} on {f.object.kind}/{f.object.name}{where}: {f.message}"


def _load_suite(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            docs = kyaml.load_all(fh.read())
    except (OSError, kyaml.YamlError) as exc:
        raise SuiteError(f"{path}: cannot read: {exc}") from None
    data = docs[0].data if docs else None
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise SuiteError(f"{path}: expected a mapping with policies and cases")
    unknown = set(data) - {"policies", "cases"}
    if unknown:
        raise SuiteError(f'{path}: unknown key "{sorted(unknown)[0]}"')
    return data


_CASE_KEYS = ("name", "manifest", "expect")
_EXPECT_KEYS = ("check", "object", "message", "container")


def _known_keys(mapping: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    """A mistyped key (``expct:``) would silently change what a case tests: refuse it."""
    unknown = sorted(str(k) for k in mapping if k not in known)
    if unknown:
        raise SuiteError(f'{where}: unknown key "{unknown[0]}" (known keys: {", ".join(known)})')


def run_suite(path: str) -> Iterator[Outcome]:
    data = _load_suite(path)
    base = os.path.dirname(path)
    ctx = _context(path, base, data.get("policies") or [])
    for i, case in enumerate(data["cases"]):
        name, manifest, expected = _case(path, i, case)
        result = scan_target(Target(os.path.join(base, manifest), manifest), ctx)
        problems = [f"input error: {e}" for e in result.errors]
        problems += _compare(expected, [f for obj in result.objects for f in obj.findings])
        yield Outcome(path, name, not problems, tuple(problems))


def _context(path: str, base: str, paths: Any) -> Context:
    """An evaluation of the suite's policies alone (no built-in check)."""
    if not isinstance(paths, list) or not paths:
        raise SuiteError(f"{path}: policies: expected a list of .rego files or directories")
    try:
        policies = rego.load([os.path.join(base, str(p)) for p in paths])
    except RegoError as exc:
        raise SuiteError(f"{path}: policy error: {exc}") from None
    policy = engine.select(Profile.BASELINE, PolicyVersion(None), checks=())
    return Context(policy, KindTable(), rules=(policies,), describe=explain.describe, annotation_exemptions=False)


def _case(path: str, i: int, case: Any) -> tuple[str, str, list[Mapping[str, Any]]]:
    """The name, manifest and expectations of the suite's case ``i``, checked."""
    if not isinstance(case, dict) or not isinstance(case.get("manifest"), str):
        raise SuiteError(f"{path}: cases[{i}]: expected a mapping with name, manifest and expect")
    _known_keys(case, _CASE_KEYS, f"{path}: cases[{i}]")
    expected = case.get("expect") or []
    if not isinstance(expected, list) or not all(isinstance(e, dict) and "check" in e for e in expected):
        raise SuiteError(f"{path}: cases[{i}].expect: expected a list of {{check, ...}} mappings")
    for j, expect in enumerate(expected):
        _known_keys(expect, _EXPECT_KEYS, f"{path}: cases[{i}].expect[{j}]")
    return str(case.get("name") or f"cases[{i}]"), case["manifest"], expected


def _compare(expected: list[Mapping[str, Any]], found: list[Finding]) -> list[str]:
    """What differs: each expectation matched by a different finding, and no finding left over."""
    problems = []
    left = list(found)
    for expect in expected:
        match = next((f for f in left if _matches(expect, f)), None)
        if match is None:
            problems.append(f"expected, not found: {dict(expect)}")
        else:
            left.remove(match)
    return problems + [f"unexpected: {_describe(f)}" for f in left]
