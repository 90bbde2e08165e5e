"""Namespace labels → policy, with Pod Security Admission's defaults and fallbacks."""

from __future__ import annotations

import pytest

from podsec.admission.labels import policy_for

PSA = "pod-security.kubernetes.io/"


def modes(labels: dict[str, str] | None) -> tuple[str, str, str]:
    p = policy_for(labels)
    return str(p.enforce), str(p.audit), str(p.warn)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (None, ("privileged:latest", "privileged:latest", "privileged:latest")),
        (
            {PSA + "enforce": "baseline"},
            ("baseline:latest", "privileged:latest", "baseline:latest"),
        ),  # warn follows enforce
        (
            {PSA + "enforce": "baseline", PSA + "enforce-version": "v1.30"},
            ("baseline:v1.30", "privileged:latest", "baseline:v1.30"),
        ),
        (
            {PSA + "enforce": "baseline", PSA + "warn": "privileged"},
            ("baseline:latest", "privileged:latest", "privileged:latest"),
        ),
        (
            {PSA + "enforce": "baseline", PSA + "warn": "restricted"},
            ("baseline:latest", "privileged:latest", "restricted:latest"),
        ),
        (
            {PSA + "enforce": "baseline", PSA + "warn-version": "v1.25"},
            ("baseline:latest", "privileged:latest", "baseline:v1.25"),
        ),
        ({PSA + "enforce": "bogus"}, ("restricted:latest", "privileged:latest", "restricted:latest")),  # fails closed
        (
            {PSA + "audit": "bogus", PSA + "warn": "BASELINE"},
            ("privileged:latest", "privileged:latest", "privileged:latest"),
        ),  # open
        (
            {PSA + "audit": "restricted", PSA + "audit-version": "v1.x"},
            ("privileged:latest", "restricted:latest", "privileged:latest"),
        ),
        (
            {PSA + "enforce": "restricted", "podsec.io/enforce": "hardened"},
            ("hardened:latest", "privileged:latest", "hardened:latest"),
        ),
        (
            {"podsec.io/warn": "hardened", PSA + "warn-version": "v1.33"},
            ("privileged:latest", "privileged:latest", "hardened:v1.33"),
        ),
        (
            {PSA + "enforce": "hardened"},
            ("restricted:latest", "privileged:latest", "restricted:latest"),
        ),  # not a PSA level
    ],
)
def test_label_semantics(labels: dict[str, str] | None, expected: tuple[str, str, str]) -> None:
    assert modes(labels) == expected


def test_invalid_values_are_reported() -> None:
    p = policy_for({PSA + "enforce": "bogus", PSA + "warn-version": "1.30"})
    assert p.errors == (
        'pod-security.kubernetes.io/enforce: invalid value "bogus": must be one of privileged, baseline, restricted',
        'pod-security.kubernetes.io/warn-version: invalid value "1.30": must be "latest" or "v1.<minor>"',
    )


def test_policies_and_mutation() -> None:
    p = policy_for({"podsec.io/policies": "org, team-a", "podsec.io/mutate": "true"})
    assert p.policies == ("org", "team-a") and p.mutate
    assert policy_for({}, mutate_default=True).mutate
    assert not policy_for({"podsec.io/mutate": "false"}, mutate_default=True).mutate
