"""The review logic with realistic AdmissionReviews: pods, workloads, subresources, updates,
dry-run, generateName, each mode and version, exemptions, mutation."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import re
from dataclasses import replace
from datetime import date
from typing import Any

import jsonpatch
import pytest

from podsec.admission.envelope import ReviewError, parse
from podsec.admission.labels import ModePolicy, NamespacePolicy
from podsec.admission.review import AnnotationExemptions, Reviewer, WebhookConfig, evaluation_key
from podsec.config import parse as parse_config
from podsec.model.standards import PolicyVersion, Profile
from podsec.model.workloads import KindTable
from tests.admission.payloads import ALICE, as_validated, deployment, pod, restricted_labels, review

PSA = "pod-security.kubernetes.io/"
TODAY = date(2026, 11, 23)


def answer(
    body: dict[str, Any], labels: dict[str, str] | None, reviewer: Reviewer | None = None, **kw: Any
) -> dict[str, Any]:
    request = parse(body)
    out, _ = (reviewer or Reviewer()).review(request, labels, today=TODAY, **kw)
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    assert out["response"]["uid"] == request.uid
    result: dict[str, Any] = out["response"]
    return result


def test_restricted_namespace_denies_a_controller_pod_with_psa_message() -> None:
    r = answer(review(pod()), restricted_labels())
    assert r["allowed"] is False
    assert r["status"]["code"] == 403 and r["status"]["reason"] == "Forbidden"
    assert r["status"]["message"] == (
        'pods is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "web" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
        '(container "web" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "web" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "web" '
        'must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )
    assert "warnings" not in r  # PSA adds no warnings to a rejected request
    assert r["auditAnnotations"]["enforce-policy"] == "restricted:latest"


def test_named_pod_and_versions() -> None:
    r = answer(review(pod("web-0", privileged=True)), {PSA + "enforce": "baseline", PSA + "enforce-version": "v1.22"})
    assert r["status"]["message"] == (
        'pods "web-0" is forbidden: violates PodSecurity "baseline:v1.22": privileged '
        '(container "web" must not set securityContext.privileged=true)'
    )


def test_compliant_pod_is_allowed() -> None:
    r = answer(review(pod(restricted=True)), restricted_labels())
    assert r["allowed"] is True and "warnings" not in r


def test_warn_and_audit_modes() -> None:
    labels = {PSA + "warn": "restricted", PSA + "audit": "baseline"}
    r = answer(review(pod(privileged=True)), labels)
    assert r["allowed"] is True
    assert r["auditAnnotations"]["audit-violations"] == (
        'would violate PodSecurity "baseline:latest": privileged (container "web" must not set securityContext.privileged=true)'
    )
    assert r["warnings"][0] == (
        'would violate PodSecurity "restricted:latest": privileged (container "web" must not set securityContext.privileged=true)'
    )
    assert len(r["warnings"]) == 5
    for w in r["warnings"]:
        assert len(w) <= 256 and "\n" not in w


def test_hardened_profile_by_podsec_label() -> None:
    r = answer(review(pod(restricted=True)), {"podsec.io/enforce": "hardened"})
    assert r["allowed"] is False
    message = r["status"]["message"]
    assert message.startswith('pods is forbidden: violates podsec "hardened:latest": ')
    assert 'writable root filesystem (container "web" does not set readOnlyRootFilesystem=true)' in message


def test_workloads_are_warned_and_audited_but_not_enforced() -> None:
    r = answer(review(deployment(privileged=True)), restricted_labels())
    assert r["allowed"] is True
    assert r["warnings"][0].startswith('would violate PodSecurity "restricted:latest": privileged')
    enforcing = Reviewer(WebhookConfig(enforce_workloads=True))
    r = answer(review(deployment(privileged=True)), restricted_labels(), enforcing)
    assert r["allowed"] is False and r["status"]["message"].startswith(
        'deployments "web" is forbidden: violates PodSecurity'
    )


def test_workload_update_without_template_change_is_skipped() -> None:
    old = deployment(privileged=True)
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    r = answer(review(new, operation="UPDATE", old=old), restricted_labels())
    assert r == {"uid": r["uid"], "allowed": True}


@pytest.mark.parametrize(
    ("change", "evaluated"),
    [
        (lambda p: p["metadata"]["labels"].update(extra="x"), False),
        (lambda p: p["spec"].update(activeDeadlineSeconds=30), False),
        (lambda p: p["spec"]["containers"][0].update(image="registry.example/web:2.0"), True),
        (lambda p: p["spec"]["containers"].append({"name": "b", "image": "b"}), True),
        # an ephemeral container added by an UPDATE of the pod itself (not the subresource), or its image changed
        (lambda p: p["spec"]["ephemeralContainers"].append({"name": "dbg2", "image": "busybox"}), True),
        (lambda p: p["spec"]["ephemeralContainers"][0].update(image="busybox:2"), True),
        (lambda p: p["spec"]["ephemeralContainers"][0].update(targetContainerName="other"), False),
    ],
)
def test_pod_updates_are_evaluated_only_when_significant(change: Any, evaluated: bool) -> None:
    old = pod("web-0")
    old["spec"]["ephemeralContainers"] = [{"name": "dbg", "image": "busybox", "targetContainerName": "web"}]
    new = copy.deepcopy(old)
    change(new)
    r = answer(review(new, operation="UPDATE", old=old), restricted_labels())
    assert r["allowed"] is (not evaluated)


def test_ephemeral_container_subresource_is_checked_others_are_skipped() -> None:
    old = pod("web-0", restricted=True)
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": "busybox", "targetContainerName": "web"}]
    r = answer(review(new, operation="UPDATE", old=old, subresource="ephemeralcontainers"), restricted_labels())
    assert r["allowed"] is False and 'container "debugger"' in r["status"]["message"]
    for sub in ("exec", "attach", "log", "status", "eviction", "binding", "portforward", "proxy"):
        r = answer(
            review(pod("web-0", privileged=True), operation="UPDATE", old=old, subresource=sub), restricted_labels()
        )
        assert r["allowed"] is True and "warnings" not in r


def test_connect_and_delete_are_allowed() -> None:
    exec_options = {
        "apiVersion": "v1",
        "kind": "PodExecOptions",
        "stdin": True,
        "tty": True,
        "container": "web",
        "command": ["sh"],
    }
    body = review(exec_options, operation="CONNECT", subresource="exec")
    body["request"]["resource"] = {"group": "", "version": "v1", "resource": "pods"}
    assert answer(body, restricted_labels())["allowed"] is True
    assert answer(review(None, operation="DELETE", old=pod("web-0")), restricted_labels())["allowed"] is True


def test_dry_run_gets_the_same_answer() -> None:
    assert answer(review(pod(), dry_run=True), restricted_labels())["allowed"] is False


def test_psa_exemptions() -> None:
    reviewer = Reviewer(WebhookConfig(exempt_namespaces=frozenset({"shop"})))
    r = answer(review(pod(privileged=True)), restricted_labels(), reviewer)
    assert r["allowed"] is True and r["auditAnnotations"] == {"exempt": "namespace"}
    reviewer = Reviewer(WebhookConfig(exempt_usernames=frozenset({ALICE["username"]})))
    assert answer(review(pod(privileged=True), user=ALICE), restricted_labels(), reviewer)["auditAnnotations"] == {
        "exempt": "user"
    }
    reviewer = Reviewer(WebhookConfig(exempt_runtime_classes=frozenset({"kata"})))
    kata = pod(privileged=True)
    kata["spec"]["runtimeClassName"] = "kata"
    assert answer(review(kata), restricted_labels(), reviewer)["auditAnnotations"] == {"exempt": "runtimeClass"}


def _self_exempting(*checks: str, until: str = "") -> dict[str, Any]:
    p = pod(privileged=True)
    p["spec"].update(hostPID=True, hostNetwork=True)
    notes = {"podsec.io/exempt": ", ".join(checks) or "*", "podsec.io/exempt-reason": "CNI agent (NET-42)"}
    if until:
        notes["podsec.io/exempt-until"] = until
    p["metadata"]["annotations"] = notes
    return p


def test_annotation_exemptions_are_off_in_the_webhook_unless_configured() -> None:
    r = answer(review(_self_exempting()), restricted_labels())
    assert r["allowed"] is False
    assert r["status"]["message"].endswith(
        "(podsec.io/exempt is ignored: annotation exemptions are off in this namespace)"
    )
    r = answer(review(_self_exempting("privileged")), {PSA + "warn": "baseline"})
    assert r["allowed"] is True and r["warnings"][0] == (
        "podsec: podsec.io/exempt is ignored: annotation exemptions are off in this namespace"
    )
    assert "exemptions" not in r.get("auditAnnotations", {})
    cfg = parse_config({"exemptions": [{"checks": ["privileged"], "namespace": "shop", "reason": "r"}]})
    reviewer = Reviewer(WebhookConfig(exemptions=cfg.exemptions))  # the config's own exemptions still apply
    r = answer(review(pod(privileged=True)), {PSA + "enforce": "baseline"}, reviewer)
    assert r["allowed"] is True
    text = f"{cfg.exemptions[0].where} exempts privileged (no expiry); reason: r"
    assert r["warnings"] == [f"podsec: exemption used: {text}"] and r["auditAnnotations"]["exemptions"] == text


def test_annotation_exemptions_never_cover_the_enforced_pss_level_unless_allowed() -> None:
    on = Reviewer(WebhookConfig(annotation_exemptions=AnnotationExemptions(enabled=True)))
    assert answer(review(_self_exempting()), restricted_labels(), on)["allowed"] is False
    hardened = {PSA + "enforce": "baseline", "podsec.io/warn": "hardened"}
    r = answer(review(_self_exempting("readOnlyRootFilesystem", until="2027-06-30")), hardened, on)
    assert r["allowed"] is False  # privileged and host namespaces: baseline, which the namespace enforces
    p = pod(restricted=True)
    p["metadata"]["annotations"] = {"podsec.io/exempt": "*", "podsec.io/exempt-reason": "nginx cache (OPS-1)",
                                    "podsec.io/exempt-until": "2027-06-30"}  # fmt: skip
    r = answer(review(p), {PSA + "enforce": "restricted", "podsec.io/warn": "hardened"}, on)
    assert r["allowed"] is True
    used = [w for w in r["warnings"] if w.startswith("podsec: exemption used:")]
    assert used and "annotation podsec.io/exempt exempts" in used[0] and "until 2027-06-30" in used[0]
    assert "reason: nginx cache (OPS-1)" in used[0] and "readOnlyRootFilesystem" in used[0]
    assert "runAsNonRoot" not in used[0]  # a restricted check: not exemptible in a restricted namespace
    assert "until 2027-06-30" in r["auditAnnotations"]["exemptions"]
    allowed = Reviewer(WebhookConfig(annotation_exemptions=AnnotationExemptions(enabled=True, enforced_levels=True)))
    r = answer(review(_self_exempting()), restricted_labels(), allowed)
    assert r["allowed"] is True and "reason: CNI agent (NET-42)" in r["auditAnnotations"]["exemptions"]


def test_annotation_exemptions_limited_to_namespaces_and_checks() -> None:
    rule = AnnotationExemptions(enabled=True, namespaces=("legacy-*",), checks=frozenset({"privileged"}))
    reviewer = Reviewer(WebhookConfig(annotation_exemptions=rule))
    labels = {PSA + "enforce": "baseline"}
    allow = AnnotationExemptions(enabled=True, namespaces=("legacy-*",), checks=frozenset({"privileged", "hostNamespaces"}), enforced_levels=True)  # fmt: skip
    assert answer(review(_self_exempting(), namespace="shop"), labels, reviewer)["allowed"] is False
    r = answer(
        review(_self_exempting(), namespace="legacy-a"), labels, Reviewer(WebhookConfig(annotation_exemptions=allow))
    )
    assert r["allowed"] is True
    rule = replace(rule, enforced_levels=True)
    r = answer(
        review(_self_exempting(), namespace="legacy-a"), labels, Reviewer(WebhookConfig(annotation_exemptions=rule))
    )
    assert r["allowed"] is False and "host namespaces" in r["status"]["message"]  # only privileged may be exempted


def test_namespace_lookup_failure_fails_closed_for_pods_open_for_workloads() -> None:
    r = answer(review(pod()), None, namespace_known=False)
    assert r["allowed"] is False and r["status"]["code"] == 500
    r = answer(review(deployment()), None, namespace_known=False)
    assert r["allowed"] is True and "error" in r["auditAnnotations"]


def test_defaults_apply_to_unlabelled_namespaces() -> None:
    restricted = ModePolicy(Profile.RESTRICTED, PolicyVersion(None))  # a Profile, as the configuration makes it
    reviewer = Reviewer(WebhookConfig(defaults=NamespacePolicy(restricted, restricted, restricted)))
    assert answer(review(pod()), {}, reviewer)["allowed"] is False


def test_invalid_labels_warn() -> None:
    r = answer(review(pod(restricted=True)), {PSA + "enforce": "restricted", PSA + "warn": "nope"})
    assert r["allowed"] is True
    assert r["warnings"] == [
        'podsec: pod-security.kubernetes.io/warn: invalid value "nope": must be one of privileged, baseline, restricted'
    ]


def test_many_violations_stay_within_warning_limits() -> None:
    p = pod(privileged=True)
    p["spec"].update(hostNetwork=True, hostPID=True, hostIPC=True)
    p["spec"]["containers"][0]["securityContext"].update(capabilities={"add": ["SYS_ADMIN"]}, procMount="Unmasked")
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 80}]
    r = answer(review(p), {"podsec.io/warn": "hardened"})
    assert 1 < len(r["warnings"]) <= 10 and sum(len(w) for w in r["warnings"]) <= 4096
    assert r["warnings"][-1].startswith("... and ")


@pytest.mark.parametrize(
    "body",
    [
        [],
        {
            "apiVersion": "admission.k8s.io/v1beta1",
            "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": "CREATE"},
        },
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"},
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "operation": "PATCH"}},
    ],
)
def test_malformed_reviews(body: Any) -> None:
    with pytest.raises(ReviewError):
        parse(body)


def mutated(obj: dict[str, Any], labels: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    request = parse(review(obj))
    out, _ = Reviewer().mutate(request, {"podsec.io/mutate": "true"} if labels is None else labels)
    r = out["response"]
    if "patch" not in r:
        return r, obj
    assert r["patchType"] == "JSONPatch"
    ops = json.loads(base64.b64decode(r["patch"]))
    return r, jsonpatch.apply_patch(copy.deepcopy(obj), ops)  # applies cleanly, or raises


def test_mutation_adds_safe_defaults_only() -> None:
    _, after = mutated(pod())
    assert after["spec"]["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert after["spec"]["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    assert "runAsNonRoot" not in json.dumps(after)
    r = answer(review(after), restricted_labels())
    assert (
        r["allowed"] is False and "runAsNonRoot" in r["status"]["message"] and "seccomp" not in r["status"]["message"]
    )


@pytest.mark.parametrize(
    ("container_sc", "expected"),
    [
        ({"privileged": True}, {"privileged": True}),  # nothing added to a privileged container
        ({"allowPrivilegeEscalation": True}, {"allowPrivilegeEscalation": True, "capabilities": {"drop": ["ALL"]}}),
        (
            {"capabilities": {"add": ["NET_BIND_SERVICE"]}},
            {"capabilities": {"add": ["NET_BIND_SERVICE"]}, "allowPrivilegeEscalation": False},
        ),
        ({"capabilities": {"add": ["CAP_SYS_ADMIN"]}}, {"capabilities": {"add": ["CAP_SYS_ADMIN"]}}),
        (
            {"capabilities": {"drop": ["NET_RAW"]}},
            {"capabilities": {"drop": ["NET_RAW", "ALL"]}, "allowPrivilegeEscalation": False},
        ),
        ({"capabilities": {}}, {"capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": False}),
        ({"runAsUser": 0}, {"runAsUser": 0, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}),
    ],
)
def test_mutation_never_overrides(container_sc: dict[str, Any], expected: dict[str, Any]) -> None:
    p = pod()
    p["spec"]["securityContext"] = {"seccompProfile": {"type": "Unconfined"}}
    p["spec"]["initContainers"] = [{"name": "init", "image": "i", "securityContext": copy.deepcopy(container_sc)}]
    _, after = mutated(p)
    assert after["spec"]["securityContext"] == {"seccompProfile": {"type": "Unconfined"}}
    assert after["spec"]["initContainers"][0]["securityContext"] == expected


def test_mutation_is_opt_in_and_skips_windows_and_updates() -> None:
    r, _ = mutated(pod(), labels={})
    assert "patch" not in r
    windows = pod()
    windows["spec"]["os"] = {"name": "windows"}
    r, _ = mutated(windows)
    assert "patch" not in r
    request = parse(review(pod("web-0"), operation="UPDATE", old=pod("web-0")))
    out, _ = Reviewer().mutate(request, {"podsec.io/mutate": "true"})
    assert "patch" not in out["response"]
    r, after = mutated(pod(restricted=True))
    assert after["spec"]["containers"][0]["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }


@pytest.mark.parametrize(
    "change",
    [
        # Windows pods that do not say os.name (the API server accepts Linux fields on them, and
        # Windows ignores them: the patch would only say something untrue about the pod)
        lambda p: p["spec"].update(hostNetwork=True, securityContext={"windowsOptions": {"hostProcess": True}}),
        lambda p: p["spec"]["containers"][0].update(securityContext={"windowsOptions": {"hostProcess": True}}),
        lambda p: p["spec"].update(nodeSelector={"kubernetes.io/os": "windows"}),
        # a mirror pod is the kubelet's record of a static pod: a patch would make it differ from what runs
        lambda p: p["metadata"].update(annotations={"kubernetes.io/config.mirror": "hash"}),
    ],
)
def test_mutation_skips_windows_and_mirror_pods(change: Any) -> None:
    p = pod()
    change(p)
    r, _ = mutated(p)
    assert "patch" not in r


def test_identical_pods_are_evaluated_once_and_answered_alike() -> None:
    reviewer = Reviewer()
    first = answer(review(pod()), restricted_labels(), reviewer)
    second = answer(review(pod()), restricted_labels(), reviewer)
    assert first["uid"] != second["uid"]
    assert {k: v for k, v in first.items() if k != "uid"} == {k: v for k, v in second.items() if k != "uid"}
    assert len(reviewer._evaluations) == 1
    other = answer(review(pod(image="registry.example/web:2.0")), restricted_labels(), reviewer)
    assert other["allowed"] is False and len(reviewer._evaluations) == 2
    request = parse(review(pod()))
    reviewer.review(request, restricted_labels(), today=date(2027, 1, 1))  # expiry dates depend on the day
    assert len(reviewer._evaluations) == 3
    small = Reviewer(WebhookConfig(cache_bytes=64 * 1024))  # bounded in bytes, whatever the entries
    for i in range(200):
        answer(review(pod(image=f"registry.example/web:{i}")), restricted_labels(), small)
    assert 0 < len(small._evaluations) < 200 and small._evaluations.size <= 64 * 1024


def test_pods_of_one_template_share_an_evaluation_and_each_denial_names_its_pod() -> None:
    reviewer = Reviewer()
    first, second = (parse(review(as_validated(pod(), suffix))) for suffix in ("abcde", "fghij"))
    assert first.name == "web-7d4b9c8f6d-abcde" and first.obj != second.obj
    a, _ = reviewer.review(first, restricted_labels(), today=TODAY)
    b, decision = reviewer.review(second, restricted_labels(), today=TODAY)
    assert len(reviewer._evaluations) == 1 and not decision.allowed
    assert a["response"]["uid"] == first.uid and b["response"]["uid"] == second.uid
    message_a, message_b = a["response"]["status"]["message"], b["response"]["status"]["message"]
    assert message_a.startswith('pods "web-7d4b9c8f6d-abcde" is forbidden: violates')
    assert message_b.startswith('pods "web-7d4b9c8f6d-fghij" is forbidden: violates')
    assert message_a.split(":", 1)[1] == message_b.split(":", 1)[1]


def test_names_are_part_of_the_evaluation_when_an_exemption_matches_names() -> None:
    cfg = parse_config({"exemptions": [{"checks": ["*"], "name": "web-7d4b9c8f6d-abc*", "reason": "canary"}]})
    reviewer = Reviewer(WebhookConfig(exemptions=cfg.exemptions))
    exempted = answer(review(as_validated(pod(), "abcde")), restricted_labels(), reviewer)
    denied = answer(review(as_validated(pod(), "fghij")), restricted_labels(), reviewer)
    assert exempted["allowed"] is True and denied["allowed"] is False
    assert len(reviewer._evaluations) == 2


def test_evaluation_key_ignores_only_what_no_check_reads() -> None:
    def key(obj: dict[str, Any], names: bool = False, everything: bool = False) -> bytes:
        return evaluation_key(obj, KindTable(), names_matter=names, everything_matters=everything)

    base = as_validated(pod(), "abcde")
    other_pod = as_validated(pod(), "fghij")
    other_pod["status"] = {"phase": "Pending"}
    assert key(other_pod) == key(base)
    assert key(other_pod, names=True) != key(base, names=True)
    assert key(other_pod, everything=True) != key(base, everything=True)  # Rego may read anything
    annotated = copy.deepcopy(base)
    annotated["metadata"]["annotations"] = {"podsec.io/exempt": "*"}
    image = copy.deepcopy(base)
    image["spec"]["containers"][0]["image"] = "registry.example/web:2.0"
    assert len({key(base), key(annotated), key(image)}) == 3
    assert key({"big": 2**70}) != key({"big": 2**71})  # beyond orjson: still keyed by content
    labelled = copy.deepcopy(base)
    labelled["metadata"]["labels"] = {"pod-template-hash": "other"}
    assert key(labelled) == key(base)  # no check reads labels


def test_evaluation_key_of_a_workload_follows_pod_extraction() -> None:
    def key(obj: dict[str, Any]) -> bytes:
        return evaluation_key(obj, KindTable(), names_matter=False, everything_matters=False)

    base = deployment()
    scaled = deployment()
    scaled["spec"]["replicas"] = 5
    scaled["metadata"]["labels"] = {"team": "shop"}
    assert key(scaled) == key(base)
    privileged = deployment(privileged=True)
    annotated = deployment()
    annotated["spec"]["template"]["metadata"]["annotations"] = {"podsec.io/exempt": "*"}
    other_kind = {**deployment(), "kind": "StatefulSet"}
    assert len({key(base), key(privileged), key(annotated), key(other_kind)}) == 4
    broken = deployment()
    broken["spec"]["template"] = "x"  # no pod to extract: the whole object is the key
    assert key(broken) != key(base)


def _valid_after_mutation(p: dict[str, Any]) -> list[str]:
    """The rules of Kubernetes' pod validation that a mutation could break (validation.go:
    validateSeccompAnnotationsAndFields, ValidateSecurityContext's allowPrivilegeEscalation rules)."""
    errors = []
    notes = p["metadata"].get("annotations") or {}
    legacy = notes.get("seccomp.security.alpha.kubernetes.io/pod")
    field = ((p["spec"].get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    expected = {"Unconfined": ("unconfined",), "RuntimeDefault": ("runtime/default", "docker/default")}
    if legacy is not None and field in expected and legacy not in expected[field]:
        errors.append("seccomp type in annotation and field must match")
    for c in p["spec"].get("initContainers", []) + p["spec"]["containers"]:
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is False:
            if sc.get("privileged") is True:
                errors.append("allowPrivilegeEscalation false and privileged")
            if "CAP_SYS_ADMIN" in ((sc.get("capabilities") or {}).get("add") or []):
                errors.append("allowPrivilegeEscalation false and CAP_SYS_ADMIN")
    return errors


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["metadata"].update(annotations={"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}),
        lambda p: p["metadata"].update(annotations={"seccomp.security.alpha.kubernetes.io/pod": "localhost/x.json"}),
        lambda p: p["spec"].update(securityContext=None),
        lambda p: p["spec"]["containers"][0].update(securityContext=None),
        lambda p: p["spec"]["containers"][0].update(securityContext={"capabilities": None}),
        lambda p: p["spec"]["containers"][0].update(securityContext={"capabilities": {"drop": None, "add": None}}),
        lambda p: p["spec"]["containers"][0].update(securityContext={"privileged": True}),
        lambda p: p["spec"]["containers"][0].update(securityContext={"capabilities": {"add": ["CAP_SYS_ADMIN"]}}),
        lambda p: p["spec"]["containers"][0].update(securityContext={"allowPrivilegeEscalation": None}),
        lambda p: p["spec"].update(initContainers=[{"name": "init", "image": "i", "securityContext": None}]),
    ],
)
def test_mutation_never_makes_a_pod_the_api_server_rejects(change: Any) -> None:
    p = pod()
    change(p)
    _, after = mutated(p)  # the patch applies (jsonpatch raises otherwise)
    assert _valid_after_mutation(after) == []


def test_mutation_leaves_seccomp_to_a_legacy_annotation() -> None:
    p = pod()
    p["metadata"]["annotations"] = {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}
    _, after = mutated(p)
    assert "seccompProfile" not in (after["spec"].get("securityContext") or {})
    assert after["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"apiVersion": "x" * 3_000_000, "kind": "AdmissionReview"},
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u" * 5000, "operation": "CREATE"},
        },
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": "x" * 10**6},
        },
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": "CREATE", "resource": []},
        },
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": "CREATE", "name": {}},
        },
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {"uid": "u\n", "operation": "CREATE"},
        },
    ],
)
def test_bad_envelopes_are_refused_with_short_reasons(body: Any) -> None:
    with pytest.raises(ReviewError) as err:
        parse(body)
    assert len(str(err.value)) < 300


def test_huge_names_are_not_echoed_into_answers() -> None:
    p = pod("x" * 100)
    p["spec"]["containers"][0]["name"] = "n" * 2_500_000
    body = review(p)
    body["request"]["name"] = "p" * 1_000_000
    r = answer(body, {PSA + "enforce": "restricted", "podsec.io/warn": "hardened"})
    assert r["allowed"] is False and len(json.dumps(r)) < 10_000
    r = answer(body, {PSA + "warn": "restricted", PSA + "audit": "restricted"})
    assert r["allowed"] is True and len(json.dumps(r)) < 10_000


def test_deep_nesting_is_a_bad_request() -> None:
    deep: Any = "x"
    for _ in range(1000):  # orjson reads up to 1,024 levels
        deep = {"a": deep}
    body = review(pod())
    body["request"]["object"]["spec"]["containers"][0]["securityContext"] = deep
    with pytest.raises(ReviewError, match="nested more than 254 levels"):
        Reviewer().review(parse(body), restricted_labels(), today=TODAY)


def _many(n: int, **special: dict[str, Any]) -> dict[str, Any]:
    """A pod of ``n`` restricted containers; ``special`` maps a container name to its securityContext."""
    p = pod("huge", restricted=True)
    c0 = p["spec"]["containers"][0]
    p["spec"]["containers"] = [
        {**c0, "name": f"c{i}", "securityContext": special.get(f"c{i}", c0["securityContext"])} for i in range(n)
    ]
    return p


def test_a_huge_pod_is_evaluated_in_bounded_memory() -> None:
    """Views and violations of 20,000 containers held at once were 64 MiB (3.3 KiB a container, 330 MiB
    for the 100,000 of the largest pod): a huge pod is evaluated a slice of containers at a time."""
    import gc
    import tracemalloc

    p = _many(20_000)
    for c in p["spec"]["containers"]:
        del c["securityContext"]  # every container violates restricted: the most violations to hold
    request = parse(review(p))
    reviewer = Reviewer()
    gc.collect()
    tracemalloc.start()
    try:
        out, _ = reviewer.review(request, restricted_labels())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    r = out["response"]
    assert r["allowed"] is False and r["status"]["message"].startswith('pods "huge" is forbidden: violates PodSecurity')
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("n", [10, 5_000])  # one slice, and several
def test_a_huge_pods_answer_names_every_kind_of_violation(n: int) -> None:
    last = f"c{n - 1}"
    p = _many(n, **{last: {"privileged": True}})
    p["spec"]["hostPID"] = True
    r = answer(review(p), restricted_labels())
    message = r["status"]["message"]
    assert r["allowed"] is False and len(message) <= 4096
    assert message.startswith('pods "huge" is forbidden: violates PodSecurity "restricted:latest": ')
    assert f'privileged (container "{last}" must not set securityContext.privileged=true)' in message
    assert message.count("host namespaces (hostPID=true)") == 1  # a pod-level violation once, not once a slice
    assert answer(review(_many(n)), restricted_labels())["allowed"] is True  # the rest pass


def test_a_patch_stays_small_whatever_the_pod() -> None:
    """A patch grows with the pod: 15 MB for 100,000 containers, held by the server for as long
    as a client takes to read it (forever, for one that does not). Past MAX_PATCH_OPS operations
    the pod is admitted unmutated, with a warning and an audit annotation saying why."""
    from podsec.admission.mutate import MAX_PATCH_OPS

    p = _many(MAX_PATCH_OPS + 1)  # one operation each
    for c in p["spec"]["containers"]:
        del c["securityContext"]
    r, _ = mutated(p)
    assert "patch" not in r and r["allowed"] is True
    assert r["warnings"] == [f"podsec: not mutated: the patch would take more than {MAX_PATCH_OPS} operations"]
    assert r["auditAnnotations"]["unmutated"] == f"the patch would take more than {MAX_PATCH_OPS} operations"
    small = _many(MAX_PATCH_OPS // 2 - 1)
    for c in small["spec"]["containers"]:
        del c["securityContext"]
    r, after = mutated(small)
    assert len(base64.b64decode(r["patch"])) < 64 * 1024
    assert after["spec"]["containers"][-1]["securityContext"]["allowPrivilegeEscalation"] is False


def _with_name(raw: bytes) -> bytes:
    body = review(pod(restricted=True))
    body["request"]["object"]["spec"]["priority"] = "MARK"
    return json.dumps(body).encode().replace(b'"MARK"', raw)


@pytest.mark.parametrize(
    "raw",
    [
        _with_name(b"7"),
        _with_name(b'"\\ud800"'),
        _with_name(b'"\\ud83d\\ude00"'),
        _with_name(b'"\xed\xa0\x80"'),  # a surrogate encoded in UTF-8
        _with_name(b'"\xff"'),
        _with_name(b"NaN"),
        _with_name(b"-Infinity"),
        _with_name(b"1e400"),
        _with_name(str(2**64).encode()),
        _with_name(b"1" * 400),
        _with_name(b'"a\x01b"'),
        _with_name(b"[" * 1100 + b"]" * 1100),
        b"\xef\xbb\xbf" + _with_name(b"7"),
        _with_name(b"7").decode().encode("utf-16"),
        _with_name(b"7") + b" x",
    ],
)
def test_the_large_body_parser_reads_what_orjson_reads(raw: bytes) -> None:
    """Workers parse large bodies with the standard library (memory): it must accept and refuse what
    orjson does, and read the same values."""
    from podsec.admission import handling

    def outcome(read: Any) -> Any:
        try:
            return json.dumps(dataclasses.asdict(read(raw)), sort_keys=True)  # the typed request, every field
        except handling.Refusal as exc:
            return exc.status

    assert outcome(handling.read_large) == outcome(handling.read)


def test_a_cluster_workflow_template_is_reviewed_like_any_workload() -> None:
    """Cluster-scoped, and registered because the webhook's resource list comes from the kinds table."""
    template = pod("x", privileged=True)
    cwt = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ClusterWorkflowTemplate",
        "metadata": {"name": "build"},
        "spec": {"templates": [{"name": "main", "container": template["spec"]["containers"][0]}]},
    }
    r = answer(review(cwt, namespace=""), restricted_labels())
    assert r["allowed"] is True and r["warnings"][0].startswith(
        'would violate PodSecurity "restricted:latest": privileged'
    )


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("kind",), "Pod", "request.kind: expected an object"),
        (("resource",), ["pods"], "request.resource: expected an object"),
        (("userInfo",), "alice", "request.userInfo: expected an object"),
        (("object",), 7, "request.object: expected an object"),
        (("oldObject",), "a pod", "request.oldObject: expected an object"),
        (("name",), 5, "request.name: expected a string"),
        (("namespace",), {"a": 1}, "request.namespace: expected a string"),
        (("subResource",), True, "request.subResource: expected a string"),
        (("userInfo", "username"), ["system:admin"], "request.userInfo.username: expected a string"),
    ],
)
def test_each_field_read_has_its_type(path: tuple[str, ...], value: object, named: str) -> None:
    """Every request field the webhook reads is type-checked, and the error names the first wrong one."""
    body = json.loads(json.dumps(review(pod())))
    where = body["request"]
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = value
    with pytest.raises(ReviewError, match=re.escape(named)):
        parse(body)
    request = parse(json.loads(json.dumps(review(pod()))))
    assert request.is_pod and request.username == review(pod())["request"]["userInfo"]["username"]
