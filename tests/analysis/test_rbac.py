"""RBAC as the API server decides it, and who can run privileged pods (`podsec.analysis.rbac`).

The authorizer rules here are also checked against a real API server's SubjectAccessReview
(tests/kube/test_rbac_sar.py); these tables pin each rule on its own.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from podsec.analysis import rbac
from podsec.analysis.rbac import Request, Rule, UserInfo
from podsec.model.standards import Level

GROUP = "rbac.authorization.k8s.io"


def rule(verbs: list[str], groups: list[str], resources: list[str], names: list[str] | None = None) -> Rule:
    return Rule(frozenset(verbs), frozenset(groups), frozenset(resources), frozenset(names or []))


# (name, rule, request, allowed)
RULES: list[tuple[str, Rule, Request, bool]] = [
    ("exact", rule(["create"], [""], ["pods"]), Request("create", "", "pods"), True),
    ("another verb", rule(["get"], [""], ["pods"]), Request("create", "", "pods"), False),
    ("verb *", rule(["*"], [""], ["pods"]), Request("create", "", "pods"), True),
    ("group *", rule(["create"], ["*"], ["deployments"]), Request("create", "apps", "deployments"), True),
    (
        "core group is not apps (rbac-tool's miss)",
        rule(["create"], [""], ["deployments"]),
        Request("create", "apps", "deployments"),
        False,
    ),
    ("resource * covers subresources", rule(["create"], [""], ["*"]), Request("create", "", "pods", "exec"), True),
    (
        "the resource is not its subresource",
        rule(["create"], [""], ["pods"]),
        Request("create", "", "pods", "exec"),
        False,
    ),
    ("resource/subresource", rule(["create"], [""], ["pods/exec"]), Request("create", "", "pods", "exec"), True),
    (
        "*/subresource (kubectl-who-can's miss)",
        rule(["create"], [""], ["*/exec"]),
        Request("create", "", "pods", "exec"),
        True,
    ),
    ("*/subresource is not the resource", rule(["create"], [""], ["*/exec"]), Request("create", "", "pods"), False),
    ("pods/* is not a wildcard", rule(["create"], [""], ["pods/*"]), Request("create", "", "pods", "exec"), False),
    ("*/* is not a wildcard either", rule(["create"], [""], ["*/*"]), Request("create", "", "pods", "exec"), False),
    ("case matters", rule(["Create"], [""], ["Pods"]), Request("create", "", "pods"), False),
    (
        "resourceNames match the name",
        rule(["update"], ["apps"], ["deployments"], ["web"]),
        Request("update", "apps", "deployments", name="web"),
        True,
    ),
    (
        "resourceNames miss another name",
        rule(["update"], ["apps"], ["deployments"], ["web"]),
        Request("update", "apps", "deployments", name="db"),
        False,
    ),
    (
        "resourceNames never allow create",
        rule(["create"], [""], ["pods"], ["web"]),
        Request("create", "", "pods"),
        False,
    ),
    (
        "resourceNames: some name will do (any)",
        rule(["patch"], ["apps"], ["deployments"], ["web"]),
        Request("patch", "apps", "deployments", name=None),
        True,
    ),
    (
        "a non-resource rule",
        Rule(frozenset(["get"]), frozenset(), frozenset(), urls=frozenset(["/healthz"])),
        Request("get", "", "pods"),
        False,
    ),
]


@pytest.mark.parametrize(("r", "request_", "allowed"), [(r, q, a) for _, r, q, a in RULES], ids=[n for n, *_ in RULES])
def test_rule_allows(r: Rule, request_: Request, allowed: bool) -> None:
    assert r.allows(request_) is allowed


def load(text: str) -> rbac.Authorizer:
    roles, bindings = [], []
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        if doc["kind"] in rbac.ROLE_KINDS:
            role, problems = rbac.read_role(doc)
            assert not problems and role is not None
            roles.append(role)
        else:
            binding, problems = rbac.read_binding(doc)
            assert not problems and binding is not None
            bindings.append(binding)
    return rbac.Authorizer(roles, bindings)


def role(kind: str, name: str, rules: str, namespace: str | None = None, extra: str = "") -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return f"apiVersion: {GROUP}/v1\nkind: {kind}\nmetadata:\n  name: {name}{ns}{extra}\nrules:\n{rules}---\n"


def binding(kind: str, name: str, role_kind: str, role_name: str, subjects: str, namespace: str | None = None) -> str:
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return (
        f"apiVersion: {GROUP}/v1\nkind: {kind}\nmetadata:\n  name: {name}{ns}\n"
        f"roleRef: {{apiGroup: {GROUP}, kind: {role_kind}, name: {role_name}}}\nsubjects:\n{subjects}---\n"
    )


PODS = '- {apiGroups: [""], resources: [pods], verbs: [create]}\n'
ALICE = f"- {{kind: User, name: alice, apiGroup: {GROUP}}}\n"
ALICE_USER = UserInfo("alice", frozenset({"system:authenticated"}))
CREATE_IN = {ns: Request("create", "", "pods", namespace=ns) for ns in ("a", "b")}


BINDINGS: list[tuple[str, str, UserInfo, dict[str, bool]]] = [
    (
        "RoleBinding to a Role",
        role("Role", "r", PODS, "a") + binding("RoleBinding", "b", "Role", "r", ALICE, "a"),
        ALICE_USER,
        {"a": True, "b": False},
    ),
    (
        "RoleBinding to a ClusterRole: its namespace only",
        role("ClusterRole", "r", PODS) + binding("RoleBinding", "b", "ClusterRole", "r", ALICE, "a"),
        ALICE_USER,
        {"a": True, "b": False},
    ),
    (
        "ClusterRoleBinding: everywhere",
        role("ClusterRole", "r", PODS) + binding("ClusterRoleBinding", "b", "ClusterRole", "r", ALICE),
        ALICE_USER,
        {"a": True, "b": True},
    ),
    (
        "a Role of another namespace is not found",
        role("Role", "r", PODS, "b") + binding("RoleBinding", "b", "Role", "r", ALICE, "a"),
        ALICE_USER,
        {"a": False, "b": False},
    ),
    (
        "a missing role grants nothing",
        binding("ClusterRoleBinding", "b", "ClusterRole", "none", ALICE),
        ALICE_USER,
        {"a": False, "b": False},
    ),
    (
        "another user",
        role("ClusterRole", "r", PODS) + binding("ClusterRoleBinding", "b", "ClusterRole", "r", ALICE),
        UserInfo("bob"),
        {"a": False, "b": False},
    ),
    (
        "service account named without a namespace: the RoleBinding's",
        role("ClusterRole", "r", PODS)
        + binding("RoleBinding", "b", "ClusterRole", "r", "- {kind: ServiceAccount, name: ci}\n", "a"),
        UserInfo.service_account("a", "ci"),
        {"a": True, "b": False},
    ),
    (
        "service account of another namespace",
        role("ClusterRole", "r", PODS)
        + binding("RoleBinding", "b", "ClusterRole", "r", "- {kind: ServiceAccount, name: ci, namespace: b}\n", "a"),
        UserInfo.service_account("a", "ci"),
        {"a": False, "b": False},
    ),
    (
        "a User named as a service account is that service account",
        role("ClusterRole", "r", PODS)
        + binding(
            "ClusterRoleBinding",
            "b",
            "ClusterRole",
            "r",
            f"- {{kind: User, name: 'system:serviceaccount:a:ci', apiGroup: {GROUP}}}\n",
        ),
        UserInfo.service_account("a", "ci"),
        {"a": True, "b": True},
    ),
    (
        "group system:serviceaccounts:a",
        role("ClusterRole", "r", PODS)
        + binding(
            "ClusterRoleBinding",
            "b",
            "ClusterRole",
            "r",
            f"- {{kind: Group, name: 'system:serviceaccounts:a', apiGroup: {GROUP}}}\n",
        ),
        UserInfo.service_account("a", "x"),
        {"a": True, "b": True},
    ),
    (
        "group system:serviceaccounts:a, another namespace's account",
        role("ClusterRole", "r", PODS)
        + binding(
            "ClusterRoleBinding",
            "b",
            "ClusterRole",
            "r",
            f"- {{kind: Group, name: 'system:serviceaccounts:a', apiGroup: {GROUP}}}\n",
        ),
        UserInfo.service_account("b", "x"),
        {"a": False, "b": False},
    ),
    (
        "group system:authenticated",
        role("ClusterRole", "r", PODS)
        + binding(
            "RoleBinding",
            "b",
            "ClusterRole",
            "r",
            f"- {{kind: Group, name: 'system:authenticated', apiGroup: {GROUP}}}\n",
            "b",
        ),
        UserInfo.service_account("a", "x"),
        {"a": False, "b": True},
    ),
]


@pytest.mark.parametrize(
    ("text", "user", "expected"), [(t, u, e) for _, t, u, e in BINDINGS], ids=[n for n, *_ in BINDINGS]
)
def test_bindings(text: str, user: UserInfo, expected: dict[str, bool]) -> None:
    authorizer = load(text)
    assert {ns: authorizer.authorize(user, r) is not None for ns, r in CREATE_IN.items()} == expected


AGG = "aggregationRule:\n  clusterRoleSelectors:\n  - matchLabels: {team: a}\n"


def test_aggregation() -> None:
    text = (
        role("ClusterRole", "agg", '- {apiGroups: [""], resources: [secrets], verbs: [get]}\n').replace(
            "rules:\n", AGG + "rules:\n"
        )
        + role("ClusterRole", "part", PODS, extra="\n  labels: {team: a}")
        + role(
            "ClusterRole",
            "other",
            '- {apiGroups: [""], resources: [nodes], verbs: [get]}\n',
            extra="\n  labels: {team: b}",
        )
        # an aggregated role that is itself selected: aggregation reaches through it
        + role("ClusterRole", "outer", "[]\n")
        .replace("rules:\n[]", "aggregationRule:\n  clusterRoleSelectors:\n  - matchLabels: {outer: 'yes'}\nrules: []")
        .replace("name: outer", "name: outer")
        + binding("ClusterRoleBinding", "b", "ClusterRole", "agg", ALICE)
        + binding(
            "ClusterRoleBinding", "c", "ClusterRole", "outer", f"- {{kind: User, name: carol, apiGroup: {GROUP}}}\n"
        )
    )
    text = text.replace("name: agg\n", "name: agg\n  labels: {outer: 'yes'}\n")
    authorizer = load(text)
    assert authorizer.authorize(ALICE_USER, Request("create", "", "pods", namespace="a")) is not None
    assert authorizer.authorize(ALICE_USER, Request("get", "", "secrets", namespace="a")) is None  # own rules replaced
    assert authorizer.authorize(ALICE_USER, Request("get", "", "nodes", cluster=True)) is None
    assert authorizer.authorize(UserInfo("carol"), Request("create", "", "pods", namespace="a")) is not None
    (found,) = authorizer.rules[("ClusterRole", None, "agg")]
    assert found.origin == "ClusterRole part"


def test_aggregation_selectors_every_role_and_expressions() -> None:
    everything = role("ClusterRole", "all", "[]\n").replace(
        "rules:\n[]", "aggregationRule:\n  clusterRoleSelectors: [{}]\nrules: []"
    )
    exprs = role("ClusterRole", "ex", "[]\n").replace(
        "rules:\n[]",
        "aggregationRule:\n  clusterRoleSelectors:\n  - matchExpressions: [{key: team, operator: In, values: [a, c]}]\nrules: []",
    )
    parts = role("ClusterRole", "p1", PODS, extra="\n  labels: {team: c}") + role(
        "ClusterRole", "p2", '- {apiGroups: [""], resources: [secrets], verbs: [get]}\n', extra="\n  labels: {team: b}"
    )
    authorizer = load(everything + exprs + parts)
    assert {r.origin for r in authorizer.rules[("ClusterRole", None, "all")]} == {"ClusterRole p1", "ClusterRole p2"}
    assert {r.origin for r in authorizer.rules[("ClusterRole", None, "ex")]} == {"ClusterRole p1"}


def test_refused_objects() -> None:
    bad_role = {"apiVersion": f"{GROUP}/v1", "kind": "Role", "metadata": {"name": "r", "namespace": "a"},
                "rules": [{"resources": ["pods"], "verbs": ["get"]}, {"apiGroups": [""], "resources": ["pods"], "verbs": []},
                          {"nonResourceURLs": ["/x"], "verbs": ["get"]}]}  # fmt: skip
    role_, problems = rbac.read_role(bad_role)
    assert role_ is None
    assert [(p.path, p.message) for p in problems] == [
        (("rules", 0, "apiGroups"), "resource rules must supply at least one api group"),
        (("rules", 1, "verbs"), "verbs must contain at least one value"),
        (("rules", 2, "nonResourceURLs"), "namespaced rules cannot apply to non-resource URLs"),
    ]
    bad_binding = {"apiVersion": f"{GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "b"},
                   "roleRef": {"apiGroup": GROUP, "kind": "Role", "name": "r"},
                   "subjects": [{"kind": "ServiceAccount", "name": "x"}, {"kind": "User", "name": "u", "apiGroup": "v1"},
                                {"kind": "Robot", "name": "r"}]}  # fmt: skip
    b, problems = rbac.read_binding(bad_binding)
    assert b is None
    assert [p.path for p in problems] == [
        ("roleRef", "kind"), ("subjects", 0, "namespace"), ("subjects", 1, "apiGroup"), ("subjects", 2, "kind")
    ]  # fmt: skip


def test_empty_api_groups_are_defaulted() -> None:
    """The API server defaults an empty roleRef.apiGroup, and a User or Group subject's, to
    rbac.authorization.k8s.io (SetDefaults_RoleBinding, SetDefaults_Subject): such a binding is valid."""
    plain = {"apiVersion": f"{GROUP}/v1", "kind": "RoleBinding", "metadata": {"name": "b", "namespace": "a"},
             "roleRef": {"kind": "Role", "name": "r"},
             "subjects": [{"kind": "User", "name": "u"}, {"kind": "Group", "name": "g", "apiGroup": ""}]}  # fmt: skip
    b, problems = rbac.read_binding(plain)
    assert problems == [] and b is not None
    assert [str(s) for _, s in b.subjects] == ["User u", "Group g"]


def analyze(text: str, levels: dict[str | None, Level], version: tuple[int, int] = (1, 37), **kw: Any) -> rbac.Access:
    return rbac.analyze(load(text), levels, version=version, **kw)


def held(access: rbac.Access, power: rbac.Power) -> set[tuple[str, str | None, bool]]:
    return {(str(g.subject), g.namespace, g.everywhere) for g in access.grants if g.power is power}


def one(rules: str, namespace: str = "a") -> str:
    return role("Role", "r", rules, namespace) + binding("RoleBinding", "b", "Role", "r", ALICE, namespace)


POWERS: list[tuple[str, str, rbac.Power, bool]] = [
    ("create pods", PODS, rbac.CREATE_PODS, True),
    (
        "create pods with resourceNames: never",
        '- {apiGroups: [""], resources: [pods], verbs: [create], resourceNames: [x]}\n',
        rbac.CREATE_PODS,
        False,
    ),
    (
        "patch deployments (apps)",
        "- {apiGroups: [apps], resources: [deployments], verbs: [patch]}\n",
        rbac.CONTROLLERS,
        True,
    ),
    (
        "update one named deployment",
        "- {apiGroups: [apps], resources: [deployments], verbs: [update], resourceNames: [web]}\n",
        rbac.CONTROLLERS,
        True,
    ),
    ("create cronjobs", "- {apiGroups: [batch], resources: [cronjobs], verbs: [create]}\n", rbac.CONTROLLERS, True),
    (
        "create replicationcontrollers",
        '- {apiGroups: [""], resources: [replicationcontrollers], verbs: [create]}\n',
        rbac.CONTROLLERS,
        True,
    ),
    (
        "get deployments only",
        "- {apiGroups: [apps], resources: [deployments], verbs: [get, list, watch]}\n",
        rbac.CONTROLLERS,
        False,
    ),
    (
        "deployments in the core group",
        '- {apiGroups: [""], resources: [deployments], verbs: [create]}\n',
        rbac.CONTROLLERS,
        False,
    ),
    (
        "Argo Rollouts from the kinds table",
        "- {apiGroups: [argoproj.io], resources: [rollouts], verbs: [patch]}\n",
        rbac.CONTROLLERS,
        True,
    ),
    (
        "update ephemeral containers",
        '- {apiGroups: [""], resources: [pods/ephemeralcontainers], verbs: [update]}\n',
        rbac.EPHEMERAL,
        True,
    ),
    (
        "patch */ephemeralcontainers",
        '- {apiGroups: [""], resources: ["*/ephemeralcontainers"], verbs: [patch]}\n',
        rbac.EPHEMERAL,
        True,
    ),
    ("create pods/exec", '- {apiGroups: [""], resources: [pods/exec], verbs: [create]}\n', rbac.EXEC, True),
    ("get pods/exec: not from 1.35", '- {apiGroups: [""], resources: [pods/exec], verbs: [get]}\n', rbac.EXEC, False),
    ("create */attach", '- {apiGroups: [""], resources: ["*/attach"], verbs: [create]}\n', rbac.EXEC, True),
    (
        "create pods/portforward",
        '- {apiGroups: [""], resources: [pods/portforward], verbs: [create]}\n',
        rbac.EXEC,
        True,
    ),
    ("escalate roles", f"- {{apiGroups: [{GROUP}], resources: [roles], verbs: [escalate]}}\n", rbac.ESCALATE, True),
    (
        "bind one role",
        f"- {{apiGroups: [{GROUP}], resources: [roles], verbs: [bind], resourceNames: [admin]}}\n",
        rbac.BIND,
        True,
    ),
    (
        "impersonate service accounts",
        '- {apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate]}\n',
        rbac.IMPERSONATE,
        True,
    ),
    (
        "impersonate users: cluster-scoped, not through a RoleBinding",
        '- {apiGroups: [""], resources: [users], verbs: [impersonate]}\n',
        rbac.IMPERSONATE,
        False,
    ),
    (
        "patch this namespace",
        '- {apiGroups: [""], resources: [namespaces], verbs: [patch], resourceNames: [a]}\n',
        rbac.RELABEL,
        True,
    ),
    (
        "patch another namespace",
        '- {apiGroups: [""], resources: [namespaces], verbs: [patch], resourceNames: [b]}\n',
        rbac.RELABEL,
        False,
    ),
    ("everything", '- {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}\n', rbac.CONTROLLERS, True),
]


@pytest.mark.parametrize(("rules", "power", "has"), [(r, p, h) for _, r, p, h in POWERS], ids=[n for n, *_ in POWERS])
def test_powers_through_a_role_binding(rules: str, power: rbac.Power, has: bool) -> None:
    controllers = (*rbac.BUILTIN_CONTROLLERS, rbac.Resource("argoproj.io", "rollouts"))
    access = analyze(one(rules), {"a": Level.PRIVILEGED}, controllers=controllers)
    assert held(access, power) == ({("User alice", "a", False)} if has else set())


def test_exec_with_get_before_1_35() -> None:
    text = one('- {apiGroups: [""], resources: [pods/exec], verbs: [get]}\n')
    assert held(analyze(text, {}, (1, 34)), rbac.EXEC) == {("User alice", "a", False)}
    assert held(analyze(text, {}, (1, 35)), rbac.EXEC) == set()


def test_kubelet_proxy_is_exec_everywhere() -> None:
    text = role("ClusterRole", "r", '- {apiGroups: [""], resources: [nodes/proxy], verbs: [get]}\n') + binding(
        "ClusterRoleBinding", "b", "ClusterRole", "r", ALICE
    )
    assert held(analyze(text, {}), rbac.EXEC) == {("User alice", None, True)}


LEVELS = {"priv": Level.PRIVILEGED, "base": Level.BASELINE, "rest": Level.RESTRICTED}


def runners(access: rbac.Access) -> dict[str, tuple[set[str | None], bool]]:
    return {str(r.subject): (set(r.namespaces), r.everywhere) for r in access.privileged}


def test_privileged_pods_where_psa_enforces_privileged_or_nothing() -> None:
    text = "".join(
        one(PODS, ns).replace("name: r", f"name: r-{ns}").replace("name: b", f"name: b-{ns}") for ns in LEVELS
    )
    assert runners(analyze(text, LEVELS)) == {"User alice": ({"priv"}, False)}


def test_privileged_pods_everywhere_through_a_cluster_role_binding() -> None:
    text = role("ClusterRole", "r", "- {apiGroups: [apps], resources: [daemonsets], verbs: [create]}\n") + binding(
        "ClusterRoleBinding",
        "b",
        "ClusterRole",
        "r",
        f"- {{kind: Group, name: 'system:serviceaccounts', apiGroup: {GROUP}}}\n",
    )
    assert runners(analyze(text, LEVELS)) == {"Group system:serviceaccounts": ({"priv"}, True)}


def test_privileged_pods_where_the_subject_can_change_the_labels() -> None:
    relabel = '- {apiGroups: [""], resources: [namespaces], verbs: [patch], resourceNames: [rest]}\n'
    text = one(PODS + relabel, "rest")
    assert runners(analyze(text, LEVELS)) == {"User alice": ({"rest"}, False)}
    everywhere = role("ClusterRole", "ns", '- {apiGroups: [""], resources: [namespaces], verbs: [update]}\n') + binding(
        "ClusterRoleBinding", "nsb", "ClusterRole", "ns", ALICE
    )
    text = one(PODS, "base") + everywhere
    assert runners(analyze(text, LEVELS)) == {"User alice": ({"base"}, False)}
    named = everywhere.replace("verbs: [update]", "verbs: [update], resourceNames: [base]")
    assert runners(analyze(one(PODS, "base") + named, LEVELS)) == {"User alice": ({"base"}, False)}
    other = everywhere.replace("verbs: [update]", "verbs: [update], resourceNames: [priv]")
    assert runners(analyze(one(PODS, "base") + other, LEVELS)) == {}


def test_ephemeral_containers_run_code_too() -> None:
    text = one('- {apiGroups: [""], resources: [pods/ephemeralcontainers], verbs: [patch]}\n', "priv")
    assert runners(analyze(text, LEVELS)) == {"User alice": ({"priv"}, False)}
