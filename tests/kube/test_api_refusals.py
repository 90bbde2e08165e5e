"""What the API server refuses: podsec's api* checks, the check docs' examples and the webhook's patches.

- Every example of docs/checks/ (generated from check metadata) is sent to the real API server
  as a dry run in a privileged namespace, with kubectl's strict field validation: for an
  ``api*`` check (settings the API server rejects) the failing example must be refused and
  the fixed one accepted; every other example, failing or fixed, must be a pod the server
  accepts (``kubelet*`` checks flag what only the kubelet refuses: the server accepts it). In
  a namespace enforcing the check's Pod Security level, PSA's verdict on each example must be
  podsec's.
- Every unique pod of ../shared/corpus: a pod podsec flags with an ``api*`` check must be
  refused by the server, and a pod the server refuses for a securityContext reason must be
  flagged by podsec.
- The mutating webhook's JSON Patch, applied to each corpus pod (and to pods built to trip
  it), must leave a pod the server accepts: the webhook runs before validation, so a patch
  that makes a pod invalid turns a good pod into a refused one.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from typing import Any

import jsonpatch
import pytest

from podsec import engine, kyaml
from podsec.admission import mutate
from podsec.checks import ALL_CHECKS, Check, CheckLevel
from podsec.docs import example_pod
from podsec.model import pod as podmodel
from podsec.model.standards import Level, PolicyVersion, Profile
from podsec.model.workloads import POD
from tests.kube import corpus as corpus_mod
from tests.kube.fixtures import NamespaceFactory
from tests.kube.harness import KubeEnv, dry_run_many

# Every check's example is a pod spec (the rules beyond the pod, podsec.analysis.rules, have whole manifests).
EXAMPLES = [c for c in ALL_CHECKS if c.example is not None]
API_CHECKS = {c.id for c in ALL_CHECKS if c.id.startswith("api")}
# Failing examples the API server refuses although the check is not an api* check, and why.
REFUSED_BEFORE_PSA = {
    # Since 1.35 baseline allows procMount: Unmasked in a user namespace, and validation refuses it
    # anywhere else: a pod failing baseline's procMount at the newest version never reaches PSA.
    "procMount": "`hostUsers` must be false to use `Unmasked`",
}
PSA = "pod-security.kubernetes.io/"
# Fields of one securityContext level that apiMisplacedField reports when written at the other.
MISPLACEABLE = {
    "allowPrivilegeEscalation", "privileged", "capabilities", "readOnlyRootFilesystem", "procMount",
    "fsGroup", "fsGroupChangePolicy", "supplementalGroups", "supplementalGroupsPolicy", "seLinuxChangePolicy", "sysctls",
}  # fmt: skip


def _manifest(spec: str) -> dict[str, Any]:
    (doc,) = kyaml.load_all(example_pod(spec).encode())
    obj: dict[str, Any] = json.loads(json.dumps(doc.data))
    return obj


def _refusal(status: int, body: Any) -> str | None:
    if status == 201:
        return None
    assert status in (400, 422), (status, body)
    return str(body.get("message"))


def test_every_check_has_an_example_and_api_checks_exist() -> None:
    assert {"apiMisplacedField", "apiInvalidProfile", "apiPrivilegeEscalationConflict"} <= API_CHECKS
    assert len(EXAMPLES) == len(ALL_CHECKS), [c.id for c in ALL_CHECKS if c.example is None]


def test_doc_examples_against_the_api_server(kube: KubeEnv, kube_namespace: NamespaceFactory) -> None:
    ns = kube_namespace(prefix="examples")  # privileged: only validation can refuse
    requests, cases = [], []
    for check in EXAMPLES:
        assert check.example is not None
        for which, spec in (("failing", check.example.failing), ("fixed", check.example.fixed)):
            requests.append((f"/api/v1/namespaces/{ns}/pods", _manifest(spec)))
            cases.append((check, which))
    answers = dry_run_many(kube, requests, strict=True)
    wrong = []
    for (check, which), (status, body, _), (_, pod) in zip(cases, answers, requests, strict=True):
        refused = _refusal(status, body)
        should_refuse = which == "failing" and (check.id in API_CHECKS or check.id in REFUSED_BEFORE_PSA)
        if bool(refused) != should_refuse:
            wrong.append(f"{check.id} {which} example: server {'refused: ' + str(refused) if refused else 'accepted'}")
        elif refused and check.id in REFUSED_BEFORE_PSA:
            assert REFUSED_BEFORE_PSA[check.id] in refused
            assert _api_findings(dict(pod)), f"no api* check flags the {check.id} example the server refuses"
    assert not wrong, "\n".join(wrong)


def _pss_checks() -> list[Check]:
    return [c for c in EXAMPLES if c.level in (CheckLevel.BASELINE, CheckLevel.RESTRICTED)]


def test_doc_examples_get_psas_verdict(kube: KubeEnv, kube_namespace: NamespaceFactory) -> None:
    namespaces = {
        level: kube_namespace({PSA + "enforce": level}, prefix="exlvl") for level in ("baseline", "restricted")
    }
    requests, expected = [], []
    for check in _pss_checks():
        assert check.example is not None
        if check.id in REFUSED_BEFORE_PSA:
            continue  # PSA never sees its failing example (test_doc_examples_against_the_api_server)
        level = "baseline" if check.level is CheckLevel.BASELINE else "restricted"
        policy = engine.select(Level(level), PolicyVersion(None))
        for which, spec in (("failing", check.example.failing), ("fixed", check.example.fixed)):
            pod = _manifest(spec)
            requests.append((f"/api/v1/namespaces/{namespaces[level]}/pods", pod))
            verdict = engine.verdict(engine.evaluate(podmodel.build_pod(pod, POD), policy), policy)
            if which == "failing":
                assert verdict and check.describe  # the failing example fails its own level
            expected.append((check.id, which, f'pods "example" is forbidden: {verdict}' if verdict else None))
    answers = dry_run_many(kube, requests, strict=True)
    wrong = []
    for (check_id, which, want), (status, body, _) in zip(expected, answers, strict=True):
        got = None if status == 201 else body.get("message")
        if got != want:
            wrong.append({"check": check_id, "example": which, "server": got, "podsec": want})
    assert not wrong, json.dumps(wrong, indent=1)


@pytest.fixture
def corpus_pods(corpus_objects: tuple[list[corpus_mod.CorpusPod], Any]) -> list[corpus_mod.CorpusPod]:
    return corpus_objects[0]


def _api_findings(pod: dict[str, Any]) -> list[str]:
    policy = engine.select(Profile.HARDENED, PolicyVersion(None), enable=sorted(API_CHECKS))
    view = podmodel.build_pod(pod, POD)
    return [r.message() for r in engine.evaluate(view, policy) if r.check.id in API_CHECKS]


def test_api_checks_match_the_servers_validation_on_the_corpus(
    kube: KubeEnv, kube_namespace: NamespaceFactory, corpus_pods: list[corpus_mod.CorpusPod]
) -> None:
    ns = kube_namespace(prefix="apival")
    requests = [(f"/api/v1/namespaces/{ns}/pods", {**p.pod, "metadata": {**p.pod["metadata"], "name": f"p{i}"}})
                for i, p in enumerate(corpus_pods)]  # fmt: skip
    answers = dry_run_many(kube, requests, strict=True)
    counts: Counter[str] = Counter()
    missed, false_alarms, unknown = [], [], []
    for item, (status, body, _) in zip(corpus_pods, answers, strict=True):
        refused = _refusal(status, body)
        flagged = _api_findings(item.pod)
        counts["refused" if refused else "accepted"] += 1
        counts["flagged"] += bool(flagged)
        if flagged and not refused:
            false_alarms.append({"pod": item.origins[0], "podsec": flagged})
        if refused and "securityContext" in refused and not flagged:
            field = re.search(r'unknown field "[^"]*securityContext\.(\w+)"', refused)
            if field and field.group(1) not in MISPLACEABLE:
                unknown.append(f"{item.origins[0]}: {field.group(1)}")  # not a field of either level in 1.37
            else:
                missed.append({"pod": item.origins[0], "server": refused})
    print(f"\napi* checks on the corpus: {dict(counts)}; securityContext fields unknown to 1.37: {unknown}")
    assert counts["accepted"] > 1000
    assert not false_alarms, json.dumps(false_alarms[:5], indent=1)
    assert not missed, json.dumps(missed[:5], indent=1)


# Pods built to trip the mutation: legacy seccomp annotations beside a field the patch adds.
TRICKY = [
    {"metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}},
    {"metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "localhost/profile.json"}}},
    {"metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}}},
    {"metadata": {"annotations": {"container.seccomp.security.alpha.kubernetes.io/app": "unconfined"}}},
    {"spec": {"securityContext": {"windowsOptions": {"hostProcess": True}}, "hostNetwork": True}},
    {
        "spec": {
            "containers": [{"name": "app", "image": "i", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]
        }
    },
    {
        "spec": {
            "containers": [{"name": "app", "image": "i", "securityContext": {"privileged": False, "capabilities": {}}}]
        }
    },
]


def _tricky_pods() -> list[dict[str, Any]]:
    pods = []
    for extra in TRICKY:
        pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {},
                               "spec": {"containers": [{"name": "app", "image": "i"}]}}  # fmt: skip
        pod["metadata"].update(extra.get("metadata", {}))
        pod["spec"].update(extra.get("spec", {}))
        pods.append(pod)
    return pods


def _mutated(pod: dict[str, Any]) -> dict[str, Any] | str | None:
    """The pod after podsec's patch; None when there is nothing to patch; the error when the
    patch cannot be applied (the API server fails the mutating webhook call then)."""
    ops = mutate.patch_for(pod)
    if not ops:
        return None
    try:
        patched: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(pod), ops)
    except jsonpatch.JsonPatchException as exc:  # includes JsonPointerException's cases
        return f"the patch does not apply: {exc}"
    except Exception as exc:  # jsonpointer raises its own exception type
        return f"the patch does not apply: {exc}"
    return patched


def test_mutation_patches_leave_pods_the_server_accepts(
    kube: KubeEnv, kube_namespace: NamespaceFactory, corpus_pods: list[corpus_mod.CorpusPod]
) -> None:
    ns = kube_namespace(prefix="mutate")
    candidates = [(f"tricky pod {i}", p) for i, p in enumerate(_tricky_pods())]
    candidates += [(c.origins[0], c.pod) for c in corpus_pods]
    requests, keys, broken = [], [], []
    for i, (origin, pod) in enumerate(candidates):
        mutated = _mutated(pod)
        if isinstance(mutated, str):
            broken.append({"pod": origin, "after the patch": mutated})
            continue
        for variant, body in (("as written", pod), ("mutated", mutated)):
            if body is not None:
                requests.append(
                    (f"/api/v1/namespaces/{ns}/pods", {**body, "metadata": {**body["metadata"], "name": f"m{i}"}})
                )
                keys.append((i, origin, variant))
    answers = dry_run_many(kube, requests)
    verdicts = {key: _refusal(status, body) for key, (status, body, _) in zip(keys, answers, strict=True)}
    broken += [
        {"pod": origin, "after the patch": refusal}
        for (i, origin, variant), refusal in verdicts.items()
        if variant == "mutated" and refusal and verdicts[(i, origin, "as written")] is None
    ]
    mutated = sum(1 for key in keys if key[2] == "mutated")
    print(f"\nmutation: {mutated} pods patched, {len(broken)} made invalid by the patch")
    assert mutated > 500
    assert not broken, json.dumps(broken, indent=1)
