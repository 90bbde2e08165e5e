"""PSA's own library as a fuzzing oracle: podsec's verdict must equal PSA's at every level and version.

tools/psa-oracle is a small Go program on k8s.io/pod-security-admission (the release the test
API server runs); it evaluates each pod with the library's own checks. Hypothesis generates
pods over every field the standards read (tests/kube/strategies.py) and podsec must produce
the same text, PSA's ForbiddenDetail, for baseline and restricted at v1.0 ... v1.37 and latest.

The library sees a pod after the API server has prepared it; podsec models that preparation
for bare Pods (``podsec.model.prepare``: hostNetwork's hostPort default and the AppArmor
annotation sync, both checked against the real API server by test_psa_corpus.py), so the
oracle is sent the prepared pod and podsec the pod as written. Volumes always name a source,
so the server's ``emptyDir`` default (spec §2) does not come into play.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from podsec import engine
from podsec.checks import CheckLevel
from podsec.model import pod as podmodel
from podsec.model.prepare import prepare_pod
from podsec.model.standards import Level, PolicyVersion
from podsec.model.workloads import POD
from tests.kube.oracle import Oracle, running
from tests.kube.strategies import pods

LEVELS = ("baseline", "restricted")
EXAMPLES = int(os.environ.get("PODSEC_FUZZ_EXAMPLES", "400"))


@pytest.fixture(scope="module")
def oracle(psa_oracle: pathlib.Path) -> Iterator[Oracle]:
    with running(psa_oracle) as o:
        yield o


@pytest.fixture(scope="module")
def versions(oracle: Oracle) -> list[str]:
    return list(oracle.ask({"spec": {}})["baseline"])


def podsec_verdicts(pod: dict[str, Any], versions: list[str]) -> dict[str, dict[str, str]]:
    problems = podmodel.validate_pod(pod, POD)
    assert not problems, problems
    view = podmodel.build_pod(pod, POD)
    out: dict[str, dict[str, str]] = {}
    for level in LEVELS:
        out[level] = {}
        for version in versions:
            policy = _policy(level, version)
            failing = [r for r in engine.evaluate(view, policy) if r.check.level is not CheckLevel.HARDENED]
            out[level][version] = engine.aggregate(failing)
    return out


_POLICIES: dict[tuple[str, str], engine.Policy] = {}


def _policy(level: str, version: str) -> engine.Policy:
    key = (level, version)
    if key not in _POLICIES:
        _POLICIES[key] = engine.select(Level(level), PolicyVersion.parse(version))
    return _POLICIES[key]


def test_oracle_knows_every_version_podsec_knows(versions: list[str]) -> None:
    minors = sorted(int(v.split(".")[1]) for v in versions if v != "latest")
    assert minors == list(range(minors[-1] + 1)) and "latest" in versions
    assert _policy("restricted", "latest").evaluated_version == (1, minors[-1])


def test_known_pods_agree(oracle: Oracle, versions: list[str]) -> None:
    """A few hand-picked pods, so a broken oracle or strategy cannot pass unnoticed."""
    bad = {
        "metadata": {"name": "p", "annotations": {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}},
        "spec": {
            "hostNetwork": True,
            "containers": [{"name": "app", "image": "i", "securityContext": {"privileged": True}}],
        },
    }
    assert oracle.ask(bad)["baseline"]["latest"].startswith("forbidden AppArmor profile (annotation ")
    answer = oracle.ask(dict(prepare_pod(bad)))  # as the API server hands it to PSA
    assert answer["baseline"]["latest"].startswith('forbidden AppArmor profiles (container "app" and annotation ')
    assert "host namespaces (hostNetwork=true)" in answer["baseline"]["latest"]
    assert answer == podsec_verdicts(bad, versions)
    good = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "i"}]}}
    assert oracle.ask(good)["baseline"]["latest"] == ""
    assert oracle.ask(good)["restricted"]["v1.0"].startswith("runAsNonRoot != true")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(pod=pods())
def test_podsec_agrees_with_psa_library(pod: dict[str, Any], oracle: Oracle, versions: list[str]) -> None:
    expected = oracle.ask(dict(prepare_pod(pod)))
    got = podsec_verdicts(pod, versions)
    differences = {
        f"{level}:{v}": {"psa": expected[level][v], "podsec": got[level][v]}
        for level in LEVELS
        for v in versions
        if expected[level][v] != got[level][v]
    }
    assert not differences, json.dumps(differences, indent=1)
