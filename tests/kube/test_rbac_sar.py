"""podsec's RBAC analysis agrees with the real API server's SubjectAccessReview.

Generated sets of Roles, ClusterRoles (some aggregated by label), RoleBindings and
ClusterRoleBindings — wildcards in verbs, groups and resources, ``*/subresource``,
``resourceNames``, ClusterRoles bound by RoleBindings, bindings to Kubernetes' default roles
(``edit``, ``admin``), group subjects, service accounts with and without a namespace, a User
named as a service account, a binding to a role that does not exist — are applied to a real
kube-apiserver, with kube-controller-manager's ClusterRole aggregation controller running.
podsec analyses the same objects as manifests (with its bundled default ClusterRoles), and for
every identity and every request the answer must be SubjectAccessReview's; so must the powers
`podsec rbac` reports per namespace (create pods, pod controllers, ephemeral containers, exec,
escalate, bind, impersonate, relabel) and who may ``use`` a PodSecurityPolicy.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from podsec.analysis import rbac
from podsec.analysis.rbac import Request, UserInfo
from podsec.inventory import Inventory, Placed
from podsec.model.standards import Level
from tests.kube.harness import KubeEnv

GROUP = "rbac.authorization.k8s.io"
VERBS = ["get", "create", "update", "patch", "*", "escalate", "bind", "impersonate", "use", "list"]
API_GROUPS = ["", "apps", "batch", "*", GROUP, "policy", "argoproj.io"]
RESOURCES = [
    "pods", "pods/exec", "*/exec", "pods/*", "*", "deployments", "cronjobs", "pods/ephemeralcontainers",
    "*/ephemeralcontainers", "pods/attach", "pods/portforward", "namespaces", "serviceaccounts", "users", "roles",
    "clusterroles", "podsecuritypolicies", "nodes/proxy", "rollouts", "*/*",
]  # fmt: skip


@pytest.fixture(scope="module")
def aggregating(kube: KubeEnv) -> KubeEnv:
    """The session's server, with the ClusterRole aggregation controller running."""
    kube.start_controllers("clusterrole-aggregation")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        _, edit, _ = kube.request("GET", f"/apis/{GROUP}/v1/clusterroles/edit")
        if edit and edit.get("rules"):
            return kube
        time.sleep(0.5)
    raise AssertionError("kube-controller-manager did not aggregate the default ClusterRoles in 60 s")


class World:
    """One generated set of RBAC objects, its namespaces, identities and the requests asked about."""

    def __init__(self, seed: int, ns_a: str, ns_b: str) -> None:
        self.rng = random.Random(seed)
        self.token = secrets.token_hex(3)
        self.a, self.b = ns_a, ns_b
        self.names = ["web", ns_a, ns_b, f"psp-{self.token}", "sa1"]
        self.objects: list[dict[str, Any]] = []
        t = self.token
        self.users = {
            "u1": UserInfo(f"u1-{t}", frozenset({f"g1-{t}", "system:authenticated"})),
            "u2": UserInfo(f"u2-{t}", frozenset({"system:authenticated"})),
            "a/sa1": UserInfo.service_account(ns_a, "sa1"),
            "a/sa9": UserInfo.service_account(ns_a, "sa9"),
            "b/sa2": UserInfo.service_account(ns_b, "sa2"),
            "b/sa3": UserInfo.service_account(ns_b, "sa3"),
        }

    def rule(self) -> dict[str, Any]:
        r = self.rng
        out: dict[str, Any] = {
            "apiGroups": r.sample(API_GROUPS, r.randint(1, 2)),
            "resources": r.sample(RESOURCES, r.randint(1, 3)),
            "verbs": r.sample(VERBS, r.randint(1, 3)),
        }
        if r.random() < 0.25:
            out["resourceNames"] = r.sample(self.names, r.randint(1, 2))
        return out

    def generate(self) -> None:
        r, t = self.rng, self.token
        cluster_roles = []
        for i in range(10):
            labels = {f"podsec-test/{t}": r.choice(["x", "y"])} if r.random() < 0.6 else {}
            name = f"cr{i}-{t}"
            cluster_roles.append(name)
            self.add("ClusterRole", name, None, rules=[self.rule() for _ in range(r.randint(1, 3))], labels=labels)
        self.add("ClusterRole", f"agg-x-{t}", None, rules=[],
                 aggregation=[{"matchLabels": {f"podsec-test/{t}": "x"}}])  # fmt: skip
        self.add("ClusterRole", f"agg-any-{t}", None, rules=[],
                 aggregation=[{"matchExpressions": [{"key": f"podsec-test/{t}", "operator": "Exists"}]}])  # fmt: skip
        cluster_roles += [f"agg-x-{t}", f"agg-any-{t}", "edit", "admin", f"missing-{t}"]
        roles = {self.a: [], self.b: []}
        for ns in (self.a, self.b):
            for i in range(4):
                name = f"r{i}-{t}"
                roles[ns].append(name)
                self.add("Role", name, ns, rules=[self.rule() for _ in range(r.randint(1, 3))])
        for i in range(14):
            kind = r.choice(["RoleBinding", "RoleBinding", "ClusterRoleBinding"])
            ns = r.choice([self.a, self.b]) if kind == "RoleBinding" else None
            if kind == "RoleBinding" and r.random() < 0.5:
                ref_kind, ref = "Role", r.choice(roles[ns] if ns else [])  # type: ignore[index]
            else:
                ref_kind, ref = "ClusterRole", r.choice(cluster_roles)
            self.add_binding(kind, f"b{i}-{t}", ns, ref_kind, ref, self.subjects(ns))

    def subjects(self, ns: str | None) -> list[dict[str, Any]]:
        r, t = self.rng, self.token
        pool: list[dict[str, Any]] = [
            {"kind": "User", "name": f"u1-{t}", "apiGroup": GROUP},
            {"kind": "User", "name": f"u2-{t}", "apiGroup": GROUP},
            {"kind": "Group", "name": f"g1-{t}", "apiGroup": GROUP},
            {"kind": "Group", "name": f"system:serviceaccounts:{self.a}", "apiGroup": GROUP},
            {"kind": "ServiceAccount", "name": "sa2", "namespace": self.b},
            {"kind": "User", "name": f"system:serviceaccount:{self.b}:sa3", "apiGroup": GROUP},
            {"kind": "User", "name": f"u2-{t}"},  # apiGroup left out: the server defaults it
            {"kind": "Group", "name": f"g1-{t}", "apiGroup": ""},
        ]
        if ns is not None:  # only in the test's own namespaces: these groups cover every account
            pool += [
                {"kind": "ServiceAccount", "name": "sa1"}
                if ns == self.a
                else {"kind": "ServiceAccount", "name": "sa3"},
                {"kind": "Group", "name": "system:serviceaccounts", "apiGroup": GROUP},
                {"kind": "Group", "name": "system:authenticated", "apiGroup": GROUP},
            ]
        return r.sample(pool, r.randint(1, 3))

    def add(self, kind: str, name: str, ns: str | None, *, rules: list[Any], labels: Any = None,
            aggregation: Any = None) -> None:  # fmt: skip
        meta: dict[str, Any] = {
            "name": name,
            **({"namespace": ns} if ns else {}),
            **({"labels": labels} if labels else {}),
        }
        obj: dict[str, Any] = {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": meta, "rules": rules}
        if aggregation is not None:
            obj["aggregationRule"] = {"clusterRoleSelectors": aggregation}
        self.objects.append(obj)

    def add_binding(self, kind: str, name: str, ns: str | None, ref_kind: str, ref: str, subjects: Any) -> None:
        meta = {"name": name, **({"namespace": ns} if ns else {})}
        self.objects.append(
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": kind,
                "metadata": meta,
                "roleRef": {"kind": ref_kind, "name": ref, **({"apiGroup": GROUP} if self.rng.random() < 0.7 else {})},
                "subjects": subjects,
            }
        )

    def requests(self) -> Iterator[Request]:
        for ns in (self.a, self.b):
            yield from (
                Request("create", "", "pods", namespace=ns),
                Request("get", "", "pods", "exec", "web", ns),
                Request("create", "", "pods", "exec", "web", ns),
                Request("create", "", "pods", "attach", "db", ns),
                Request("get", "", "pods", "portforward", "web", ns),
                Request("update", "", "pods", "ephemeralcontainers", "web", ns),
                Request("patch", "apps", "deployments", name="web", namespace=ns),
                Request("create", "apps", "deployments", namespace=ns),
                Request("update", "batch", "cronjobs", name="sa1", namespace=ns),
                Request("create", "argoproj.io", "rollouts", namespace=ns),
                Request("escalate", GROUP, "roles", name="x", namespace=ns),
                Request("bind", GROUP, "roles", name="admin", namespace=ns),
                Request("impersonate", "", "serviceaccounts", name="sa1", namespace=ns),
                Request("patch", "", "namespaces", name=ns, namespace=ns),
                Request("use", "policy", "podsecuritypolicies", name=f"psp-{self.token}", namespace=ns),
                Request("list", "", "secrets", namespace=ns),
            )
        yield from (
            Request("impersonate", "", "users", name="x", cluster=True),
            Request("get", "", "nodes", "proxy", "n1", cluster=True),
            Request("escalate", GROUP, "clusterroles", name="x", cluster=True),
            Request("update", "", "namespaces", name="other", cluster=True),
        )


def sar(kube: KubeEnv, user: UserInfo, request: Request) -> bool:
    attributes: dict[str, Any] = {"verb": request.verb, "group": request.group, "resource": request.resource}
    if request.subresource:
        attributes["subresource"] = request.subresource
    if request.name:
        attributes["name"] = request.name
    if not request.cluster and request.namespace:
        attributes["namespace"] = request.namespace
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user.name, "groups": sorted(user.groups), "resourceAttributes": attributes},
    }
    status, answer, _ = kube.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body)
    assert status == 201, answer
    return bool(answer["status"].get("allowed"))


def apply(kube: KubeEnv, world: World) -> None:
    for obj in world.objects:
        ns = obj["metadata"].get("namespace")
        plural = obj["kind"].lower() + "s"
        path = f"/apis/{GROUP}/v1/" + (f"namespaces/{ns}/{plural}" if ns else plural)
        status, answer, _ = kube.request("POST", path, obj)
        assert status == 201, (obj, answer)


def wait_for_aggregation(kube: KubeEnv, authorizer: rbac.Authorizer, world: World) -> None:
    """Until the controller has given the test's aggregated roles the rules podsec expects."""
    deadline = time.monotonic() + 60
    for name in (f"agg-x-{world.token}", f"agg-any-{world.token}"):
        expected = len(authorizer.rules[("ClusterRole", None, name)])
        while True:
            _, role, _ = kube.request("GET", f"/apis/{GROUP}/v1/clusterroles/{name}")
            if len(role.get("rules") or []) == expected:
                break
            assert time.monotonic() < deadline, (
                f"{name}: {len(role.get('rules') or [])} rules, podsec expects {expected}"
            )
            time.sleep(0.2)


def analysis(world: World) -> tuple[Inventory, rbac.Authorizer]:
    inv = Inventory()
    for obj in world.objects:
        inv.add(Placed(obj, None))
    inv.add_defaults()
    assert not inv.errors, inv.errors
    return inv, inv.authorizer()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_authorization_agrees_with_subject_access_review(aggregating: KubeEnv, kube_namespace: Any, seed: int) -> None:
    world = World(
        seed,
        kube_namespace(prefix="rbac-a"),
        kube_namespace({"pod-security.kubernetes.io/enforce": "restricted"}, prefix="rbac-b"),
    )
    world.generate()
    apply(aggregating, world)
    _, authorizer = analysis(world)
    wait_for_aggregation(aggregating, authorizer, world)
    disagreements = []
    checked = allowed = 0
    for who, user in world.users.items():
        for request in world.requests():
            real = sar(aggregating, user, request)
            mine = authorizer.authorize(user, request) is not None
            checked += 1
            allowed += real
            if mine != real:
                disagreements.append(f"{who} {request} in {request.namespace}: SAR {real}, podsec {mine}")
    assert not disagreements, "\n".join(disagreements)
    assert checked == len(world.users) * 36 and 0 < allowed < checked  # both answers occur


POWER_NAMES = ("web", "x", "admin", "sa1")


def _sar_power(kube: KubeEnv, user: UserInfo, power: rbac.Power, ns: str, names: tuple[str, ...]) -> bool:
    """Whether SubjectAccessReview allows some request that gives ``power`` in ``ns`` (any name of ``names``)."""
    controllers = (*rbac.BUILTIN_CONTROLLERS, rbac.Resource("argoproj.io", "rollouts"))
    for request in rbac.requests_for(power, ns, version=(1, 37), controllers=controllers):
        for name in names if request.name is None else (request.name,):
            concrete = Request(request.verb, request.group, request.resource, request.subresource, name,
                               request.namespace, request.cluster)  # fmt: skip
            if sar(kube, user, concrete):
                return True
    return False


@pytest.mark.parametrize("seed", [5, 6])
def test_powers_agree_with_subject_access_review(aggregating: KubeEnv, kube_namespace: Any, seed: int) -> None:
    world = World(seed, kube_namespace(prefix="rbac-a"), kube_namespace(prefix="rbac-b"))
    world.generate()
    apply(aggregating, world)
    _, authorizer = analysis(world)
    wait_for_aggregation(aggregating, authorizer, world)
    controllers = (*rbac.BUILTIN_CONTROLLERS, rbac.Resource("argoproj.io", "rollouts"))
    levels = {world.a: Level.PRIVILEGED, world.b: Level.PRIVILEGED}
    access = rbac.analyze(authorizer, levels, version=(1, 37), controllers=controllers)
    names = (*POWER_NAMES, *world.names)
    disagreements = []
    for who, user in world.users.items():
        for ns in (world.a, world.b):
            for power in rbac.POWERS:
                mine = any(g.subject.applies_to(user) for g in access.holders(power, ns))
                real = _sar_power(aggregating, user, power, ns, names)
                if mine != real:
                    disagreements.append(f"{who} {power.id} in {ns}: SAR {real}, podsec {mine}")
    assert not disagreements, "\n".join(disagreements)


def test_default_cluster_roles_are_the_servers(aggregating: KubeEnv) -> None:
    """podsec's bundled default ClusterRoles, aggregated by podsec, are the server's after its controller ran."""
    inv = Inventory()
    inv.add_defaults()
    authorizer = inv.authorizer()
    _, listed, _ = aggregating.request(
        "GET", f"/apis/{GROUP}/v1/clusterroles?labelSelector=kubernetes.io/bootstrapping%3Drbac-defaults"
    )
    assert len(listed["items"]) == inv.defaults

    def key(r: dict[str, Any]) -> tuple[tuple[str, ...], ...]:
        return tuple(
            tuple(sorted(r.get(k) or []))
            for k in ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")
        )

    for item in listed["items"]:
        name = item["metadata"]["name"]
        mine = {(tuple(sorted(r.verbs)), tuple(sorted(r.groups)), tuple(sorted(r.resources)), tuple(sorted(r.names)),
                 tuple(sorted(r.urls))) for r in authorizer.rules[("ClusterRole", None, name)]}  # fmt: skip
        if name in ("admin", "edit", "view"):  # other tests' roles may aggregate into these: compare a subset
            assert mine <= {key(r) for r in item.get("rules") or []}, name
        else:
            assert mine == {key(r) for r in item.get("rules") or []}, name
