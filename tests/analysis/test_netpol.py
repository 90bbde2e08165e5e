"""NetworkPolicy semantics, table-driven: which namespaces deny ingress and egress by default, and
which rules open everything (NetworkPolicy, Cilium, AdminNetworkPolicy), as `podsec.analysis.netpol`
decides from the objects alone."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from podsec.analysis import netpol


def _policies(text: str) -> list[netpol.PolicyFacts]:
    facts = [netpol.read_policy(d) for d in yaml.safe_load_all(text) if d]
    return [f for f in facts if f is not None]


def _namespaces(text: str, names: tuple[str, ...]) -> list[netpol.NamespaceInfo]:
    labels = {
        d["metadata"]["name"]: d["metadata"].get("labels") or {}
        for d in yaml.safe_load_all(text)
        if d and d.get("kind") == "Namespace"
    }
    return [netpol.NamespaceInfo(n, labels.get(n)) for n in names]


def denied(text: str, *names: str) -> dict[str, tuple[bool, bool]]:
    """Namespace -> (ingress denied by default, egress denied by default)."""
    result = netpol.isolation(_namespaces(text, names), _policies(text))
    out = {}
    for iso in result:
        assert iso.namespace.name is not None
        out[iso.namespace.name] = (bool(iso.ingress), bool(iso.egress))
    return out


def np(spec: str, namespace: str = "shop", api: str = "networking.k8s.io/v1") -> str:
    body = "".join(f"  {line}\n" for line in spec.splitlines()) if spec else ""
    head = f"apiVersion: {api}\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: {namespace}\n"
    return head + ("spec:\n" + body if spec != "-" else "")


# (name, manifests, (ingress denied, egress denied) in namespace "shop")
K8S: list[tuple[str, str, tuple[bool, bool]]] = [
    ("no policy", "", (False, False)),
    ("podSelector {}, policyTypes left out: Ingress only", np("podSelector: {}"), (True, False)),
    ("policyTypes [Ingress]", np("podSelector: {}\npolicyTypes: [Ingress]"), (True, False)),
    ("policyTypes [Egress] (kubeaudit needs it explicit)", np("podSelector: {}\npolicyTypes: [Egress]"), (False, True)),
    ("both policyTypes", np("podSelector: {}\npolicyTypes: [Ingress, Egress]"), (True, True)),
    ("policyTypes empty list: defaulted", np("podSelector: {}\npolicyTypes: []"), (True, False)),
    (
        "egress rules and no policyTypes: Egress defaulted in, with rules",
        np("podSelector: {}\negress:\n- to: [{ipBlock: {cidr: 10.0.0.0/8}}]"),
        (True, False),
    ),
    ("egress: [] and no policyTypes: Ingress only", np("podSelector: {}\negress: []"), (True, False)),
    ("egress: [{}] and no policyTypes: egress allowed", np("podSelector: {}\negress: [{}]"), (True, False)),
    ("podSelector left out: every pod", np("policyTypes: [Ingress, Egress]"), (True, True)),
    ("no spec at all: every pod, Ingress", np("-"), (True, False)),
    ("podSelector with empty matchLabels", np("podSelector: {matchLabels: {}}\npolicyTypes: [Ingress]"), (True, False)),
    ("podSelector with empty matchExpressions", np("podSelector: {matchExpressions: []}"), (True, False)),
    ("podSelector null", np("podSelector: null\npolicyTypes: [Egress]"), (False, True)),
    (
        "podSelector with labels",
        np("podSelector: {matchLabels: {app: web}}\npolicyTypes: [Ingress, Egress]"),
        (False, False),
    ),
    (
        "podSelector with an expression that matches most pods",
        np("podSelector: {matchExpressions: [{key: app, operator: Exists}]}\npolicyTypes: [Ingress]"),
        (False, False),
    ),
    ("ingress: [] is no rules", np("podSelector: {}\npolicyTypes: [Ingress]\ningress: []"), (True, False)),
    ("ingress: null is no rules", np("podSelector: {}\npolicyTypes: [Ingress]\ningress: null"), (True, False)),
    (
        "an ingress rule is not a default deny",
        np("podSelector: {}\npolicyTypes: [Ingress]\ningress:\n- from: [{podSelector: {}}]"),
        (False, False),
    ),
    (
        "ingress rules of a policy that enforces Egress only do not matter",
        np("podSelector: {}\npolicyTypes: [Egress]\ningress: [{}]"),
        (False, True),
    ),
    ("a policy of another namespace", np("podSelector: {}\npolicyTypes: [Ingress, Egress]", "other"), (False, False)),
    (
        "policyTypes misspelled: the API server refuses it",
        np("podSelector: {}\npolicyTypes: [ingress, egress]"),
        (False, False),
    ),
    ("extensions/v1beta1 NetworkPolicy", np("podSelector: {}", api="extensions/v1beta1"), (True, False)),
    (
        "deny-all ingress and egress in two policies",
        np("podSelector: {}\npolicyTypes: [Ingress]") + "---\n" + np("podSelector: {}\npolicyTypes: [Egress]"),
        (True, True),
    ),
]


@pytest.mark.parametrize(("manifests", "expected"), [(m, e) for _, m, e in K8S], ids=[n for n, _, _ in K8S])
def test_network_policy_default_deny(manifests: str, expected: tuple[bool, bool]) -> None:
    assert denied(manifests, "shop")["shop"] == expected


def test_refused_policy_is_a_problem_not_a_denial() -> None:
    (facts,) = _policies(np("podSelector: {}\npolicyTypes: [ingress]\ningress:\n- from: [{}]"))
    assert [(p.path, p.message) for p in facts.problems] == [
        (("spec", "policyTypes", 0), 'unsupported value "ingress": supported values: "Ingress", "Egress"'),
        (("spec", "ingress", 0, "from", 0), "must specify a peer"),
    ]
    assert facts.denials == ()
    (bad,) = _policies(np("podSelector: []\ningress: {}"))
    assert {p.path for p in bad.problems} == {("spec", "podSelector"), ("spec", "ingress")}


def test_near_misses_say_why_a_policy_does_not_count() -> None:
    text = (
        np("podSelector: {}\npolicyTypes: [Ingress]\ningress:\n- from: [{podSelector: {}}]")
        + "---\n"
        + np("podSelector: {matchLabels: {app: web}}\npolicyTypes: [Egress]").replace("name: p", "name: q")
    )
    (iso,) = netpol.isolation(_namespaces(text, ("shop",)), _policies(text))
    assert iso.near_misses["ingress"] == ("NetworkPolicy shop/p selects every pod for Ingress but allows 1 rule(s)",)
    assert iso.near_misses["egress"] == (
        "NetworkPolicy shop/p selects every pod but its policyTypes [Ingress] leave out Egress",
        "NetworkPolicy shop/q denies egress only for pods matching app=web (its podSelector is not empty)",
    )


# (name, spec, [(direction, rule path)] that open everything)
OPEN: list[tuple[str, str, list[tuple[str, tuple[Any, ...]]]]] = [
    ("ingress: [{}]", "podSelector: {}\ningress: [{}]", [("ingress", ("spec", "ingress", 0))]),
    ("from: []", "podSelector: {}\ningress:\n- from: []", [("ingress", ("spec", "ingress", 0))]),
    ("ports only", "podSelector: {}\ningress:\n- ports: [{port: 80}]", [("ingress", ("spec", "ingress", 0))]),
    ("named sources", "podSelector: {}\ningress:\n- from: [{namespaceSelector: {}}]", []),
    (
        "second rule",
        "podSelector: {}\ningress:\n- from: [{podSelector: {}}]\n- {}",
        [("ingress", ("spec", "ingress", 1))],
    ),
    (
        "egress: [{}] with policyTypes left out: Egress is enforced",
        "podSelector: {}\negress: [{}]",
        [("egress", ("spec", "egress", 0))],
    ),
    (
        "to: [] with Egress",
        "podSelector: {}\npolicyTypes: [Egress]\negress:\n- to: []",
        [("egress", ("spec", "egress", 0))],
    ),
    (
        "egress rules of an Ingress-only policy have no effect",
        "podSelector: {}\npolicyTypes: [Ingress]\negress: [{}]",
        [],
    ),
    (
        "ingress rules of an Egress-only policy have no effect",
        "podSelector: {}\npolicyTypes: [Egress]\ningress: [{}]",
        [],
    ),
]


@pytest.mark.parametrize(("spec", "expected"), [(s, e) for _, s, e in OPEN], ids=[n for n, _, _ in OPEN])
def test_rules_that_open_everything(spec: str, expected: list[tuple[str, tuple[Any, ...]]]) -> None:
    (facts,) = _policies(np(spec))
    assert [(r.direction, r.path) for r in facts.open_rules] == expected


def test_open_rule_detail() -> None:
    (facts,) = _policies(
        np(
            "podSelector: {matchLabels: {app: web}}\ningress:\n- ports: [{port: 80}, {port: 8000, endPort: 8100, protocol: UDP}]"
        )
    )
    (rule,) = facts.open_rules
    assert rule.detail == (
        "ingress rule spec.ingress[0] allows traffic from every source on 80/TCP, 8000-8100/UDP for pods matching app=web"
    )


def cnp(spec: str, kind: str = "CiliumNetworkPolicy", namespace: str | None = "shop") -> str:
    body = "".join(f"  {line}\n" for line in spec.splitlines())
    ns = f"  namespace: {namespace}\n" if namespace and kind == "CiliumNetworkPolicy" else ""
    return f"apiVersion: cilium.io/v2\nkind: {kind}\nmetadata:\n  name: c\n{ns}spec:\n{body}"


CILIUM: list[tuple[str, str, tuple[bool, bool]]] = [
    (
        "endpointSelector {} with ingress: [{}] (Cilium's documented default deny)",
        cnp("endpointSelector: {}\ningress: [{}]"),
        (True, False),
    ),
    ("egress: [{}]", cnp("endpointSelector: {}\negress: [{}]"), (False, True)),
    ("both", cnp("endpointSelector: {}\ningress: [{}]\negress: [{}]"), (True, True)),
    ("ingress: [] has no rules: no default deny", cnp("endpointSelector: {}\ningress: []"), (False, False)),
    ("enableDefaultDeny with no rules", cnp("endpointSelector: {}\nenableDefaultDeny: {ingress: true}"), (True, False)),
    (
        "enableDefaultDeny false",
        cnp("endpointSelector: {}\ningress: [{}]\nenableDefaultDeny: {ingress: false}"),
        (False, False),
    ),
    ("a pod-level selector", cnp("endpointSelector: {matchLabels: {app: web}}\ningress: [{}]"), (False, False)),
    (
        "the namespace's own name in the selector",
        cnp("endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: shop}}\ningress: [{}]"),
        (True, False),
    ),
    (
        "a rule that allows some peers",
        cnp("endpointSelector: {}\ningress:\n- fromEndpoints: [{matchLabels: {app: a}}]"),
        (False, False),
    ),
    (
        "an explicitly empty peer list allows nothing",
        cnp("endpointSelector: {}\ningress:\n- fromEndpoints: []"),
        (True, False),
    ),
    (
        "a rule with ports only allows every peer",
        cnp("endpointSelector: {}\ningress:\n- toPorts: [{ports: [{port: '80'}]}]"),
        (False, False),
    ),
    (
        "ingressDeny for every entity, whatever is allowed",
        cnp("endpointSelector: {}\ningress:\n- fromEntities: [cluster]\ningressDeny:\n- fromEntities: [all]"),
        (True, False),
    ),
    (
        "ingressDeny world only: default deny, nothing allowed",
        cnp("endpointSelector: {}\ningressDeny:\n- fromEntities: [world]"),
        (True, False),
    ),
    (
        "egressDeny world and cluster",
        cnp("endpointSelector: {}\negressDeny:\n- toEntities: [world, cluster]\negress:\n- toEntities: [all]"),
        (False, True),
    ),
    (
        "specs: a list of rules",
        cnp("- endpointSelector: {}\n  ingress: [{}]\n- endpointSelector: {}\n  egress: [{}]").replace(
            "spec:\n", "specs:\n"
        ),
        (True, True),
    ),
    (
        "a host policy (nodeSelector) selects nodes, not pods",
        cnp("nodeSelector: {}\ningress: [{}]", "CiliumClusterwideNetworkPolicy"),
        (False, False),
    ),
    (
        "a CiliumNetworkPolicy of another namespace",
        cnp("endpointSelector: {}\ningress: [{}]", namespace="other"),
        (False, False),
    ),
    (
        "clusterwide, every pod",
        cnp("endpointSelector: {}\ningress: [{}]\negress: [{}]", "CiliumClusterwideNetworkPolicy"),
        (True, True),
    ),
    (
        "clusterwide, every namespace but kube-system",
        cnp(
            "endpointSelector:\n  matchExpressions:\n  - {key: io.kubernetes.pod.namespace, operator: NotIn, values: [kube-system]}\negress: [{}]",
            "CiliumClusterwideNetworkPolicy",
        ),
        (False, True),
    ),
]


@pytest.mark.parametrize(("manifests", "expected"), [(m, e) for _, m, e in CILIUM], ids=[n for n, _, _ in CILIUM])
def test_cilium_default_deny(manifests: str, expected: tuple[bool, bool]) -> None:
    assert denied(manifests, "shop")["shop"] == expected


def test_clusterwide_cilium_policy_by_namespace_name_and_labels() -> None:
    expr = cnp(
        "endpointSelector:\n  matchExpressions:\n  - {key: k8s:io.kubernetes.pod.namespace, operator: NotIn, values: [kube-system]}\n"
        "ingress: [{}]",
        "CiliumClusterwideNetworkPolicy",
    )
    assert denied(expr, "shop", "kube-system") == {"shop": (True, False), "kube-system": (False, False)}
    by_label = cnp(
        "endpointSelector: {matchLabels: {io.cilium.k8s.namespace.labels.team: a}}\ningress: [{}]",
        "CiliumClusterwideNetworkPolicy",
    )
    namespaces = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: a}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n"
    # "c" has no Namespace object: its labels are not known, so the policy is not counted for it
    assert denied(by_label + "---\n" + namespaces, "shop", "b", "c") == {
        "shop": (True, False), "b": (False, False), "c": (False, False)
    }  # fmt: skip


def test_cilium_rules_that_open_everything() -> None:
    (facts,) = _policies(
        cnp(
            "endpointSelector: {}\ningress:\n- {}\n- fromEntities: [all]\n- toPorts: [{ports: [{port: '80', protocol: TCP}]}]\n- fromEndpoints: [{}]"
        )
    )
    assert [(r.path, r.detail) for r in facts.open_rules] == [
        (("spec", "ingress", 1), "ingress rule spec.ingress[1] allows every peer (entities: all)"),
        (
            ("spec", "ingress", 2),
            "ingress rule spec.ingress[2] allows every peer on 80/TCP (a rule with ports only applies to every peer)",
        ),
    ]


def anp(spec: str, kind: str = "AdminNetworkPolicy", name: str = "a") -> str:
    body = "".join(f"  {line}\n" for line in spec.splitlines())
    return f"apiVersion: policy.networking.k8s.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{body}"


ALL_NS = "subject: {namespaces: {}}\n"
DENY_IN = "ingress:\n- {name: deny, action: Deny, from: [{namespaces: {}}]}\n"
DENY_OUT = "egress:\n- {name: deny, action: Deny, to: [{networks: [0.0.0.0/0, '::/0']}]}\n"

ADMIN: list[tuple[str, str, tuple[bool, bool]]] = [
    ("Deny from every namespace", anp("priority: 10\n" + ALL_NS + DENY_IN), (True, False)),
    ("Deny to every network (cluster traffic included)", anp("priority: 10\n" + ALL_NS + DENY_OUT), (False, True)),
    (
        "Deny to every namespace leaves the outside open",
        anp("priority: 10\n" + ALL_NS + "egress:\n- {action: Deny, to: [{namespaces: {}}]}"),
        (False, False),
    ),
    (
        "IPv4 only leaves IPv6 open",
        anp("priority: 10\n" + ALL_NS + "egress:\n- {action: Deny, to: [{networks: [0.0.0.0/0]}]}"),
        (False, False),
    ),
    (
        "pods peer with empty selectors",
        anp(
            "priority: 10\n"
            + ALL_NS
            + "ingress:\n- {action: Deny, from: [{pods: {namespaceSelector: {}, podSelector: {}}}]}"
        ),
        (True, False),
    ),
    (
        "Deny on some ports only",
        anp(
            "priority: 10\n"
            + ALL_NS
            + "ingress:\n- {action: Deny, from: [{namespaces: {}}], ports: [{portNumber: {port: 22, protocol: TCP}}]}"
        ),
        (False, False),
    ),
    (
        "subject is this namespace by name",
        anp("priority: 10\nsubject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: shop}}}\n" + DENY_IN),
        (True, False),
    ),
    (
        "subject is another namespace",
        anp("priority: 10\nsubject: {namespaces: {matchLabels: {kubernetes.io/metadata.name: x}}}\n" + DENY_IN),
        (False, False),
    ),
    (
        "subject is some pods",
        anp("priority: 10\nsubject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: a}}}}\n" + DENY_IN),
        (False, False),
    ),
    (
        "subject is every pod of some namespaces",
        anp("priority: 10\nsubject: {pods: {namespaceSelector: {}, podSelector: {}}}\n" + DENY_IN),
        (True, False),
    ),
    (
        "an Allow-everything rule first",
        anp(
            "priority: 10\n"
            + ALL_NS
            + "ingress:\n- {action: Allow, from: [{namespaces: {}}]}\n- {action: Deny, from: [{namespaces: {}}]}"
        ),
        (False, False),
    ),
    (
        "a Pass-everything rule first",
        anp(
            "priority: 10\n"
            + ALL_NS
            + "ingress:\n- {action: Pass, from: [{namespaces: {}}]}\n- {action: Deny, from: [{namespaces: {}}]}"
        ),
        (False, False),
    ),
    (
        "an Allow rule for some peers first",
        anp(
            "priority: 10\n"
            + ALL_NS
            + "ingress:\n- {action: Allow, from: [{namespaces: {matchLabels: {a: b}}}]}\n- {action: Deny, from: [{namespaces: {}}]}"
        ),
        (True, False),
    ),
    (
        "a higher-precedence policy passes everything",
        anp("priority: 20\n" + ALL_NS + DENY_IN)
        + "---\n"
        + anp("priority: 5\n" + ALL_NS + "ingress:\n- {action: Pass, from: [{namespaces: {}}]}", name="b"),
        (False, False),
    ),
    (
        "a lower-precedence policy passes everything",
        anp("priority: 5\n" + ALL_NS + DENY_IN)
        + "---\n"
        + anp("priority: 20\n" + ALL_NS + "ingress:\n- {action: Pass, from: [{namespaces: {}}]}", name="b"),
        (True, False),
    ),
    (
        "BaselineAdminNetworkPolicy default",
        anp(ALL_NS + DENY_IN + DENY_OUT, "BaselineAdminNetworkPolicy", "default"),
        (True, True),
    ),
    (
        "BaselineAdminNetworkPolicy not named default is refused",
        anp(ALL_NS + DENY_IN, "BaselineAdminNetworkPolicy", "other"),
        (False, False),
    ),
]


@pytest.mark.parametrize(("manifests", "expected"), [(m, e) for _, m, e in ADMIN], ids=[n for n, _, _ in ADMIN])
def test_admin_network_policy_default_deny(manifests: str, expected: tuple[bool, bool]) -> None:
    assert denied(manifests, "shop")["shop"] == expected


def test_labels_unknown_without_a_namespace_object() -> None:
    policy = anp("priority: 10\nsubject: {namespaces: {matchLabels: {env: prod}}}\n" + DENY_IN)
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {env: prod}}\n"
    assert denied(policy, "shop") == {"shop": (False, False)}
    assert denied(policy + "---\n" + namespace, "shop") == {"shop": (True, False)}


def test_only_policies_are_read() -> None:
    assert netpol.read_policy({"apiVersion": "v1", "kind": "ConfigMap"}) is None
    assert netpol.read_policy({"apiVersion": "example.com/v1", "kind": "NetworkPolicy"}) is None
    assert netpol.effective_policy_types({"egress": [{}]}) == ("Ingress", "Egress")
    assert netpol.effective_policy_types({"policyTypes": ["Egress"], "ingress": [{}]}) == ("Egress",)
