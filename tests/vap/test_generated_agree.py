"""The generated policies, evaluated offline, agree with `podsec scan`'s engine (and so PSA):
on every upstream PSA fixture at its level and version, on every check's documented examples
and podsec's own hardened test pods, and on every pod and workload of the corpus, with every
corpus object accounted for."""

from __future__ import annotations

import functools
import os
import pathlib
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from podsec import docs, engine, kyaml
from podsec.checks import ALL_CHECKS, CheckLevel, Severity
from podsec.evaluate import Context, evaluate_object
from podsec.findings import InputError, ObjectResult
from podsec.model import pod as podmodel
from podsec.model.standards import Level, PolicyVersion, Profile
from podsec.model.workloads import KindTable
from podsec.sources.files import read_objects
from podsec.vap import admission, generate, inputs, policy, served
from tests.checks import test_hardened_checks as hardened_cases

PSA_RESOURCES = {
    "Pod": ("", "pods"),
    "ReplicationController": ("", "replicationcontrollers"),
    "PodTemplate": ("", "podtemplates"),
    "Deployment": ("apps", "deployments"),
    "ReplicaSet": ("apps", "replicasets"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
}
NEWEST = (1, 37)
PROFILES = ("baseline", "restricted", "hardened")


@functools.cache
def _compiled(
    profile: str,
    kube: tuple[int, int],
    enable: tuple[str, ...] = (),
    minimum: int | None = None,
    disable: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
    fail_on: Severity = Severity.INFO,
) -> tuple[list[policy.Policy], list[policy.Binding]]:
    options = {"runAsUserMinimum": {"minimum": minimum}} if minimum is not None else None
    objects = generate.build(
        profile, PolicyVersion(None), kube, enable=enable, options=options, disable=disable, only=only, fail_on=fail_on
    )
    origin = policy.Origin(None, None)
    policies = [policy.compile_policy(o, origin, kube) for o in objects if o["kind"] == "ValidatingAdmissionPolicy"]
    bindings = [policy.read_binding(o, origin) for o in objects if o["kind"] == "ValidatingAdmissionPolicyBinding"]
    return policies, bindings


def _request(obj: dict[str, Any], namespace: str) -> admission.Request:
    group, resource = PSA_RESOURCES[obj["kind"]]
    obj = inputs.admitted_object(obj, group, obj["kind"], namespace)  # as podsec vap test admits it
    name = obj["metadata"].get("name") or ""
    return admission.Request("CREATE", group, "v1", obj["kind"], resource, "", name, namespace, obj, None)


def _namespace(labels: dict[str, str]) -> admission.Cluster:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t", "labels": labels}}
    return admission.Cluster({"t": ns}, [])


def _psa(obj: dict[str, Any], level: str, version: str) -> str | None:
    """PSA's denial text for the object's pod (podsec's engine), or None."""
    kinds = KindTable()
    (source,) = kinds.pod_sources(obj)
    policy_ = engine.select(Level(level), PolicyVersion.parse(version))
    view = podmodel.build_pod(obj, source)
    return engine.verdict(engine.evaluate(view, policy_), policy_)


def _podsec(
    obj: dict[str, Any],
    profile: str,
    enable: Sequence[str] = (),
    minimum: int | None = None,
    disable: Sequence[str] = (),
    only: Sequence[str] | None = None,
    fail_on: Severity = Severity.INFO,
) -> str | None:
    """What podsec says of the object's pod under ``profile`` (latest): PSA's text for the Pod
    Security Standards' levels, podsec's own aggregate (as its webhook words it) for hardened, of
    the checks whose findings fail a scan at ``fail_on``."""
    if profile != "hardened" and not disable and only is None:
        return _psa(obj, profile, "latest")
    (source,) = KindTable().pod_sources(obj)
    options = {"runAsUserMinimum": {"minimum": minimum}} if minimum is not None else None
    selected = engine.select(
        Profile(profile), PolicyVersion(None), enable=enable, options=options, disable=disable, only=only
    )
    results = engine.evaluate(podmodel.build_pod(obj, source), selected)
    if profile != "hardened":
        return engine.verdict(results, selected)
    results = [r for r in results if r.check.severity.rank <= fail_on.rank]
    return f'violates podsec "{selected}": {engine.aggregate(results)}' if results else None


def _generated(
    obj: dict[str, Any], profile: str, kube: tuple[int, int] = NEWEST, enable: tuple[str, ...] = (), **kw: Any
) -> str | None:
    """The generated policies' answer: a Pod's denial (enforce), a workload's warning (warn),
    worded as the enforce message (``violates ...``), or None when admitted without one."""
    policies, bindings = _compiled(
        profile,
        kube,
        enable,
        kw.get("minimum"),
        kw.get("disable", ()),
        kw.get("only"),
        kw.get("fail_on", Severity.INFO),
    )
    mode = "enforce" if obj["kind"] == "Pod" else "warn"
    chosen = [p for p in policies if p.name.endswith(f"-{mode}")]
    own = generate.OWN if profile == "hardened" else generate.PSA
    outcome = admission.admit(_request(obj, "t"), chosen, bindings, _namespace({f"{own}{mode}": profile}))
    assert not outcome.unsupported
    if mode == "enforce":
        assert not outcome.warnings
        return outcome.denials[0].message if outcome.denials else None
    assert outcome.allowed
    flagged = [d.message for d, action in outcome.reports if action == "Warn"]
    assert len(flagged) <= 1
    return flagged[0].replace("would violate", "violates", 1) if flagged else None


@pytest.mark.parametrize("kube", [(1, 37), (1, 33)], ids=["k8s-1.37", "k8s-1.33"])
def test_every_upstream_fixture(psa_fixtures: pathlib.Path, kube: tuple[int, int]) -> None:
    counts: Counter[str] = Counter()
    for level in ("baseline", "restricted"):
        policies, bindings = _compiled(level, kube)
        enforce = [p for p in policies if p.name.endswith("-enforce")]
        for path in sorted(psa_fixtures.glob(f"{level}/v1.*/*/*.yaml")):
            version, verdict = path.parent.parent.name, path.parent.name
            pod = inputs._plain(kyaml.load_all(path.read_bytes())[0].data)
            labels = {f"{generate.PSA}enforce": level, f"{generate.PSA}enforce-version": version}
            outcome = admission.admit(_request(pod, "t"), enforce, bindings, _namespace(labels))
            minor = int(version.removeprefix("v1."))
            if minor > kube[1]:  # a cluster of that version evaluates newer labels as its own latest
                counts["newer than the cluster"] += 1
                continue
            assert outcome.allowed == (verdict == "pass"), (path, outcome.message)
            counts[verdict] += 1
            if kube >= (1, 35):  # messages exactly PSA's where CEL has sort/distinct/flatten
                want = _psa(pod, level, version)
                got = outcome.denials[0].message if outcome.denials else None
                assert got == want, path
                counts["same message"] += 1
    assert counts["pass"] + counts["fail"] + counts["newer than the cluster"] == 4537
    if kube >= (1, 35):
        assert counts["same message"] == 4537


@pytest.mark.parametrize(
    ("change", "expected"),
    [(change, expected) for _, change, expected in hardened_cases.CASES],
    ids=[c[0] for c in hardened_cases.CASES],
)
def test_hardened_check_cases(change: Any, expected: list[tuple[str, str, str]]) -> None:
    """podsec's own tests of its hardened checks (each check's edge cases, Windows and Linux pods)."""
    pod = hardened_cases.tweak(change)
    want = _podsec(pod, "hardened")
    for check_id, _, _ in expected:
        assert next(c for c in ALL_CHECKS if c.id == check_id).describe(())[0] + " (" in (want or "")
    assert _generated(pod, "hardened") == want
    low = Severity.LOW  # as podsec scan's default: informational checks deny nothing
    assert _generated(pod, "hardened", fail_on=low) == _podsec(pod, "hardened", fail_on=low)
    got_oldest = _generated(pod, "hardened", generate.OLDEST)
    assert (got_oldest is None) == (want is None)  # before 1.35 only PSA's message lists may be ordered differently


@pytest.mark.parametrize("fail_on", [Severity.LOW, Severity.HIGH])
def test_hardened_fail_on(fail_on: Severity) -> None:
    """--fail-on chooses the checks that deny, as it chooses the findings that fail a scan."""
    for _, change, _ in hardened_cases.CASES:
        pod = hardened_cases.tweak(change)
        assert _generated(pod, "hardened", fail_on=fail_on) == _podsec(pod, "hardened", fail_on=fail_on)


def test_hardened_options_and_enable() -> None:
    pod = hardened_cases.tweak(
        lambda p: (hardened_cases.psc(p).update(runAsUser=1000), hardened_cases.csc(p).update(runAsUser=20000))
    )
    assert _generated(pod, "hardened") is None  # runAsUserMinimum is off by default
    enabled = ("runAsUserMinimum",)
    assert _generated(pod, "hardened", enable=enabled) == _podsec(pod, "hardened", enabled) is not None
    assert _generated(pod, "hardened", minimum=30000) == _podsec(pod, "hardened", minimum=30000)
    assert "below 30000" in (_generated(pod, "hardened", minimum=30000) or "")


@pytest.mark.parametrize(
    ("profile", "disable", "only"),
    [
        ("restricted", ("capabilities_restricted",), None),  # capabilities_baseline then runs at every version
        ("restricted", ("restrictedVolumes",), None),  # hostPathVolumes then runs
        ("restricted", ("seccompProfile_restricted", "procMount_restricted"), None),
        ("hardened", ("userNamespace", "runAsNonRoot"), None),
        ("hardened", (), ("readOnlyRootFilesystem", "privileged", "hostPathVolumes")),
        ("baseline", ("hostPorts",), None),
    ],
)
def test_selection_as_podsec_selects(profile: str, disable: tuple[str, ...], only: tuple[str, ...] | None) -> None:
    """The configuration's select/ignore/checks.disable choose the generated checks as they choose
    podsec's, replaced checks included (PSA's overrides apply only between selected checks)."""
    pod = hardened_cases.tweak(
        lambda p: (
            hardened_cases.csc(p)["capabilities"].update(add=["NET_RAW", "SYS_ADMIN"], drop=[]),
            hardened_cases.spec(p).update(volumes=[{"name": "h", "hostPath": {"path": "/"}}], hostUsers=True),
            hardened_cases.csc(p).update(procMount="Unmasked", seccompProfile={"type": "Unconfined"}, privileged=True),
            hardened_cases.spec(p)["containers"][0].update(ports=[{"containerPort": 80, "hostPort": 80}]),
        )
    )
    want = _podsec(pod, profile, disable=disable, only=only)
    assert want is not None
    assert _generated(pod, profile, disable=disable, only=only) == want


def test_hardened_capability_spellings() -> None:
    """Capability names are normalised as podsec normalises them (Python's strip and upper)."""
    for spelling, dangerous in [
        ("cap_sys_admin", True),
        (" CAP_NET_RAW\u3000", True),
        ("\u017fys_admin", True),  # long s: upper() is S
        ("checkpoint_re\ufb06ore", True),  # the st ligature: upper() is ST
        ("sys_admin\x1c", True),  # Python strips U+001C, Go's TrimSpace would not
        ("CAP_CAP_SYS_ADMIN", False),
        ("sys-admin", False),
        ("SYS_ADMINX", False),
    ]:
        pod = hardened_cases.tweak(
            lambda p, s=spelling: hardened_cases.csc(p)["capabilities"].update(add=[s], drop=["all"])
        )
        want = _podsec(pod, "hardened")
        assert want is not None and ("dangerous capability" in want) is dangerous, spelling
        assert _generated(pod, "hardened") == want, spelling


def test_upper_case_table_is_complete() -> None:
    """The non-ASCII characters whose Python upper() is ASCII are exactly those hardened_cel knows."""
    from podsec.vap import hardened_cel

    found = {chr(c) for c in range(0x80, 0x110000) if chr(c).upper().isascii() and chr(c).upper().isalpha()}
    assert found == set(hardened_cel._UPPER_TO_ASCII)


def _examples() -> Iterator[tuple[str, str, str]]:
    for check in ALL_CHECKS:
        # Pod-spec examples (the rules beyond the pod, podsec.analysis.rules, are not checks: not generated).
        if check.example is not None:
            yield check.id, "failing", check.example.failing
            yield check.id, "fixed", check.example.fixed


@pytest.mark.parametrize(("check_id", "which", "snippet"), list(_examples()), ids=lambda v: str(v)[:40])
def test_documented_examples(check_id: str, which: str, snippet: str) -> None:
    """Every check's documented example (docs/checks), failing and fixed, under every profile."""
    check = next(c for c in ALL_CHECKS if c.id == check_id)
    pod = inputs._plain(kyaml.load_all(docs.example_pod(snippet).encode())[0].data)
    enable = () if check.default_on else (check_id,)
    for profile in PROFILES:
        if profile != "hardened" and check.level is CheckLevel.HARDENED:
            continue
        want = _podsec(pod, profile, enable) if profile == "hardened" else _podsec(pod, profile)
        assert _generated(pod, profile, enable=enable if profile == "hardened" else ()) == want, profile
    low = _podsec(pod, "hardened", enable, fail_on=Severity.LOW)
    assert _generated(pod, "hardened", enable=enable, fail_on=Severity.LOW) == low  # informational checks left out
    if which == "failing":
        text = _podsec(pod, "hardened", enable) or ""
        assert check.describe(())[0] in text or check.level is not CheckLevel.HARDENED


def _corpus_objects(corpus: pathlib.Path) -> Iterator[tuple[pathlib.Path, int | None, Any]]:
    kinds = KindTable()
    for root, dirs, files in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.lower().endswith((".yaml", ".yml", ".json")) or name.startswith("."):
                continue
            path = pathlib.Path(root, name)
            for item in read_objects(path.read_bytes(), str(path), kinds):
                yield (path, item.line, item) if isinstance(item, InputError) else (path, item.line, item.obj)


def test_every_corpus_object(corpus: pathlib.Path) -> None:
    """Every corpus document that may carry a pod ends in exactly one accounted category; where the
    generated policies apply, their answer (allow/deny for pods, the warning for workloads) and its
    text equal podsec's, under each profile."""
    kinds = KindTable()
    catalog = served.Catalog(NEWEST)
    counts: Counter[str] = Counter()
    context = Context(engine.select(Profile.HARDENED, PolicyVersion(None)), kinds)
    for path, line, item in _corpus_objects(corpus):
        if isinstance(item, InputError):
            counts["unreadable: an input error in podsec scan"] += 1
            continue
        raw, obj = item, inputs._plain(item)
        if kinds.rule_for(obj) is None:
            continue  # a kind that carries no pod: neither podsec nor the generated policies evaluate it
        scanned = evaluate_object(raw, context, file=str(path))
        if obj.get("kind") not in PSA_RESOURCES:
            assert scanned is None or isinstance(scanned, ObjectResult | list)
            counts["kind beyond PSA's (Argo, Knative, OpenShift): scanned, not matched by the policies"] += 1
            continue
        group, version = inputs._group_version(str(obj.get("apiVersion")))
        try:
            catalog.resolve(group, version, obj["kind"])
        except served.NotServed:
            with pytest.raises(served.NotServed):
                inputs._resource(obj, str(path), line or 0, catalog)
            counts["apiVersion not served by Kubernetes 1.37: vap test reports an input error"] += 1
            continue
        if isinstance(scanned, list):
            assert all(isinstance(e, InputError) for e in scanned)
            counts["wrong field types: an input error in podsec scan (the API server refuses it too)"] += 1
            continue
        if scanned is None:
            assert not kinds.pod_sources(obj)
            for profile in PROFILES:
                assert _generated(obj, profile) is None, (path, line)
            counts["carries no pod (a patch, a test assertion): neither evaluates it"] += 1
            continue
        for profile in PROFILES:
            want = _podsec(obj, profile)
            assert _generated(obj, profile) == want, (path, line, profile)
            counts[f"{profile}: {'denied' if want else 'allowed'}"] += 1
        low = _podsec(obj, "hardened", fail_on=Severity.LOW)  # informational checks left out
        assert _generated(obj, "hardened", fail_on=Severity.LOW) == low, (path, line)
        counts[f"hardened --fail-on low: {'denied' if low else 'allowed'}"] += 1
        counts["evaluated"] += 1
    print(dict(counts))
    assert counts["evaluated"] > 1300 and counts["hardened: denied"] > 1300
    assert counts["carries no pod (a patch, a test assertion): neither evaluates it"] == 301
