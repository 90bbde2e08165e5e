"""Check selection (spec §1.3-§1.5) and PSA's verdict text (§5)."""

from __future__ import annotations

import pickle

import pytest

from podsec import catalog, engine
from podsec.analysis import rules
from podsec.checks import ALL_CHECKS, Check, CheckLevel, get
from podsec.model.standards import Level, PolicyVersion, Profile
from tests import helpers
from tests.helpers import container_sc, minimal_pod, tweak


def ids(level: str, version: str, **kw: object) -> list[str]:
    return [s.check.id for s in engine.select(Level(level), PolicyVersion.parse(version), **kw).checks]  # type: ignore[arg-type]


def test_newest_is_the_newest_revision_and_at_least_v1_37() -> None:
    assert engine.NEWEST >= (1, 37)
    assert max(since for c in ALL_CHECKS if c.level.is_pss for since, _ in c.revisions) == engine.NEWEST


def test_privileged_runs_nothing() -> None:
    assert ids("privileged", "latest") == []


def test_baseline_set_grows_with_versions() -> None:
    assert "hostProbesAndHostLifecycle" not in ids("baseline", "v1.33")
    assert "hostProbesAndHostLifecycle" in ids("baseline", "v1.34")
    assert len(ids("baseline", "v1.0")) == 11  # the v1.0 set is fixed; later ones grow with the registry
    assert len(ids("baseline", "latest")) == sum(c.level is CheckLevel.BASELINE for c in ALL_CHECKS)


@pytest.mark.parametrize(
    ("version", "present", "absent"),
    [
        (
            "v1.0",
            {"restrictedVolumes", "seccompProfile_baseline", "capabilities_baseline", "procMount"},
            {"hostPathVolumes", "allowPrivilegeEscalation", "runAsUser", "seccompProfile_restricted"},
        ),
        ("v1.8", {"allowPrivilegeEscalation"}, {"hostPathVolumes"}),
        ("v1.19", {"seccompProfile_restricted"}, {"seccompProfile_baseline"}),
        ("v1.22", {"capabilities_restricted"}, {"capabilities_baseline"}),
        ("v1.23", {"runAsUser"}, set()),
        ("v1.34", {"procMount", "hostProbesAndHostLifecycle"}, {"procMount_restricted"}),
        ("v1.35", {"procMount_restricted"}, {"procMount"}),
    ],
)
def test_restricted_overrides(version: str, present: set[str], absent: set[str]) -> None:
    got = set(ids("restricted", version))
    assert present <= got and not (absent & got)


def test_order_is_baseline_then_restricted_by_byte_value() -> None:
    got = ids("restricted", "v1.34")
    baseline = [i for i in got if get(i).level == "baseline"]
    assert got == baseline + sorted(set(got) - set(baseline), key=str.encode)
    assert baseline == sorted(baseline, key=str.encode)
    assert (
        got.index("seLinuxOptions") < got.index("seccompProfile_baseline") if "seccompProfile_baseline" in got else True
    )


def test_latest_is_lowers_newest() -> None:
    policy = engine.select(Level.RESTRICTED, PolicyVersion.parse("latest"), latest_is=(1, 33))
    assert policy.evaluated_version == (1, 33)
    assert "hostProbesAndHostLifecycle" not in [s.check.id for s in policy.checks]
    higher = engine.select(Level.RESTRICTED, PolicyVersion.parse("v1.36"), latest_is=(1, 33))
    assert higher.evaluated_version == (1, 33)


@pytest.mark.parametrize("bad", ["v1.01", "1.25", "v2.0", "V1.25", "Latest", "v1.", ""])
def test_invalid_versions_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        PolicyVersion.parse(bad)


def test_verdict_text_keeps_requested_version() -> None:
    pod = tweak(minimal_pod("restricted", 37), lambda p: container_sc(p).pop("allowPrivilegeEscalation"))
    policy = helpers.policy("restricted", "v1.99")
    assert engine.verdict(engine.evaluate(helpers.view(pod), policy), policy) == (
        'violates PodSecurity "restricted:v1.99": allowPrivilegeEscalation != false '
        '(container "container1" must set securityContext.allowPrivilegeEscalation=false)'
    )


def test_registry_is_valid() -> None:
    seen = set()
    for check in ALL_CHECKS:
        assert check.id not in seen
        seen.add(check.id)
        versions = [v for v, _ in check.revisions]
        assert versions == sorted(versions) and len(set(versions)) == len(versions)
        for old in check.overrides:
            assert check.level == "restricted" and get(old).level == "baseline"
        assert check.title and check.rationale and check.remediation


NETWORK_AND_PSP = ["defaultDenyIngress", "defaultDenyEgress", "allowAllIngress", "allowAllEgress", "podSecurityPolicy"]


def test_rules_beyond_the_pod_are_rules_not_checks() -> None:
    """They report findings (podsec.beyond, podsec rbac) but have nothing to run on pods."""
    assert all(isinstance(c, Check) for c in ALL_CHECKS)
    assert not any(isinstance(r, Check) for r in rules.ALL_RULES)
    assert not {c.id for c in ALL_CHECKS} & {r.id for r in rules.ALL_RULES}
    assert [r.id for r in rules.ALL_RULES] == [*NETWORK_AND_PSP, "rbacPrivilegedPods", "rbacExec", "rbacEscalate",
                                                "rbacImpersonate"]  # fmt: skip
    assert catalog.BUILTIN[: len(ALL_CHECKS) + len(rules.ALL_RULES)] == (*ALL_CHECKS, *rules.ALL_RULES)
    assert all(pickle.loads(pickle.dumps(r)) is r for r in rules.ALL_RULES)  # by id, as checks travel


def test_hardened_selects_the_rules_beyond_the_pod_apart_from_its_checks() -> None:
    latest = PolicyVersion(None)
    hardened = engine.select(Profile.HARDENED, latest)
    assert [r.id for r in hardened.beyond] == NETWORK_AND_PSP  # rbac* run in podsec rbac
    assert not {s.check.id for s in hardened.checks} & {r.id for r in rules.ALL_RULES}
    assert engine.select(Profile.RESTRICTED, latest).beyond == ()
    only = engine.select(Profile.HARDENED, latest, only={"defaultDenyEgress"})
    assert only.checks == () and [r.id for r in only.beyond] == ["defaultDenyEgress"]
    ignored = engine.select(Profile.HARDENED, latest, disable={"allowAllIngress", "podSecurityPolicy"})
    assert [r.id for r in ignored.beyond] == ["defaultDenyIngress", "defaultDenyEgress", "allowAllEgress"]
    assert engine.select(Profile.HARDENED, latest, only={"rbacExec"}).beyond == ()  # known, not a scan's
    with pytest.raises(engine.ConfigurationError, match="no such check"):
        engine.select(Profile.HARDENED, latest, rules=(), only={"defaultDenyEgress"})
