"""PSA on real manifests: the API server's PodSecurity verdicts on every pod of ../shared/corpus
must equal podsec's, word for word.

Each unique pod of the corpus (tests/kube/corpus.py) is created with ``dryRun=All`` in
namespaces labelled ``enforce=baseline`` and ``enforce=restricted`` at several
``enforce-version``s and ``latest``: a 403 must carry exactly podsec's denial
(``pods "p1" is forbidden: violates PodSecurity "restricted:v1.25": …``), a 201 must be a pod
podsec allows. Pods the server refuses on validation (422/400) never reach PSA; they are
counted, not compared. Then every built-in workload object is created, again as a dry run,
in namespaces labelled ``warn=<level>``: PSA's one warning must equal podsec's verdict.

All requests go over one HTTP/2 connection, 48 at a time (``harness.dry_run_many``).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from podsec import engine
from podsec.model import pod as podmodel
from podsec.model.standards import Level, PolicyVersion
from podsec.model.workloads import POD
from tests.kube import corpus as corpus_mod
from tests.kube.fixtures import NamespaceFactory
from tests.kube.harness import KubeEnv, dry_run_many

VERSIONS = ("v1.18", "v1.22", "v1.25", "v1.30", "v1.34", "latest")
LEVELS = ("baseline", "restricted")
WORKLOAD_VERSIONS = ("v1.22", "latest")
PSA = "pod-security.kubernetes.io/"


def _policy(level: str, version: str) -> engine.Policy:
    return engine.select(Level(level), PolicyVersion.parse(version))


def podsec_verdict(obj: dict[str, Any], src: Any, policy: engine.Policy) -> str | None:
    view = podmodel.build_pod(obj, src)
    return engine.verdict(engine.evaluate(view, policy), policy)


def _server_verdict(status: int, body: Any) -> str | None:
    """None (allowed), PSA's message (denied), or 'invalid: …' (refused before PSA)."""
    if status == 201:
        return None
    message = str((body or {}).get("message", body))
    if status == 403 and "violates PodSecurity" in message:
        return message
    if status in (400, 422):
        return f"invalid: {message}"
    raise AssertionError(f"unexpected answer {status}: {message}")


def test_pod_verdicts_equal_the_api_servers(
    kube: KubeEnv, kube_namespace: NamespaceFactory, corpus_objects: tuple[list[corpus_mod.CorpusPod], Any]
) -> None:
    pods, _ = corpus_objects
    namespaces = {
        (level, version): kube_namespace({PSA + "enforce": level, PSA + "enforce-version": version}, prefix="psa")
        for level in LEVELS
        for version in VERSIONS
    }
    requests, expected = [], []
    for (level, version), ns in namespaces.items():
        policy = _policy(level, version)
        for i, item in enumerate(pods):
            name = f"p{i}"
            body = {**item.pod, "metadata": {**item.pod["metadata"], "name": name}}
            requests.append((f"/api/v1/namespaces/{ns}/pods", body))
            verdict = podsec_verdict(item.pod, POD, policy)
            expected.append((i, level, version, f'pods "{name}" is forbidden: {verdict}' if verdict else None))
    answers = dry_run_many(kube, requests)
    counts: Counter[str] = Counter()
    wrong = []
    invalid_pods = set()
    for (i, level, version, want), (status, body) in zip(expected, ((a[0], a[1]) for a in answers), strict=True):
        got = _server_verdict(status, body)
        if got is not None and got.startswith("invalid: "):
            invalid_pods.add(i)
            counts["invalid"] += 1
            continue
        counts["allowed" if got is None else "denied"] += 1
        if got != want:
            wrong.append({"pod": pods[i].origins[0], "policy": f"{level}:{version}", "server": got, "podsec": want})
    compared = counts["allowed"] + counts["denied"]
    print(
        f"\nPSA on the corpus: {len(pods)} unique pods ({sum(len(p.origins) for p in pods)} objects), "
        f"{len(requests)} dry-run creates: {compared - len(wrong)}/{compared} verdicts agree "
        f"({counts['allowed']} allowed, {counts['denied']} denied); {len(invalid_pods)} pods refused by "
        f"validation ({counts['invalid']} requests); {sum(p.completed for p in pods)} fragments completed "
        "with an image or without dangling volume mounts"
    )
    assert compared > 10_000
    assert not wrong, f"{len(wrong)} disagreements, first ones:\n" + json.dumps(wrong[:5], indent=1)


def test_workload_warnings_equal_the_api_servers(
    kube: KubeEnv, kube_namespace: NamespaceFactory, corpus_objects: tuple[Any, list[corpus_mod.CorpusWorkload]]
) -> None:
    _, workloads = corpus_objects
    requests, expected = [], []
    for level in LEVELS:
        for version in WORKLOAD_VERSIONS:
            labels = {PSA + "enforce": "privileged", PSA + "warn": level, PSA + "warn-version": version}
            ns = kube_namespace(labels, prefix="psaw")
            policy = _policy(level, version)
            for i, w in enumerate(workloads):
                meta = w.obj.get("metadata") or {}
                keep = {k: meta[k] for k in ("labels", "annotations") if isinstance(meta.get(k), dict)}
                body = {**w.obj, "metadata": {**keep, "name": f"w{i}"}}
                requests.append((w.path.format(ns=ns), body))
                (src,) = corpus_mod.KINDS.pod_sources(w.obj)
                verdict = podsec_verdict(w.obj, src, policy)
                expected.append(
                    (w, f"{level}:{version}", verdict.replace("violates", "would violate", 1) if verdict else None)
                )
    answers = dry_run_many(kube, requests)
    counts: Counter[str] = Counter()
    wrong = []
    for (w, policy_name, want), (status, body, warnings) in zip(expected, answers, strict=True):
        if status in (400, 422):
            counts["invalid"] += 1
            continue
        assert status == 201, (status, body)
        psa = [t for t in warnings if t.startswith("would violate PodSecurity")]
        assert len(psa) <= 1, psa
        got = psa[0] if psa else None
        counts["warned" if got else "clean"] += 1
        if got != want:
            wrong.append({"object": w.origin, "policy": policy_name, "server": got, "podsec": want})
    compared = counts["warned"] + counts["clean"]
    print(
        f"\nPSA warnings on the corpus' workloads: {len(workloads)} objects, {len(requests)} dry-run creates: "
        f"{compared - len(wrong)}/{compared} agree ({counts['warned']} warned, {counts['clean']} clean); "
        f"{counts['invalid']} refused by validation"
    )
    assert compared > 2000
    assert not wrong, f"{len(wrong)} disagreements, first ones:\n" + json.dumps(wrong[:5], indent=1)
