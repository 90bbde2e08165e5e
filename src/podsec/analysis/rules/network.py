"""Network isolation (podsec hardened): namespaces without a default-deny policy, and rules that allow everything.

These rules are not about pods: `podsec.beyond` evaluates them across the objects of a
scan, with the semantics of `podsec.analysis.netpol`.
"""

from __future__ import annotations

from podsec.analysis.rules._rule import BeyondRule, Scope
from podsec.checks import CheckLevel, Example, Severity

NETPOL_URL = "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-policies"
CILIUM_URL = "https://docs.cilium.io/en/stable/security/policy/intro/#policy-enforcement-modes"
ANP_URL = "https://network-policy-api.sigs.k8s.io/reference/spec/"


_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.example/web:1.0
"""


def _deny(direction: str) -> str:
    title = direction.capitalize()
    return f"""---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-{direction}
  namespace: shop
spec:
  podSelector: {{}}
  policyTypes: [{title}]
"""


def _rationale(direction: str) -> str:
    what = (
        "receive connections from any pod in the cluster (and from outside it)"
        if direction == "ingress"
        else ("connect to anything: other namespaces, the cloud metadata endpoint, the internet")
    )
    return (
        f"Until a network policy selects a pod for {direction}, it can {what}. A default-deny policy "
        f"for {direction} in each namespace (every pod selected, nothing allowed) makes every allowed flow "
        "explicit in another policy. podsec counts a NetworkPolicy with an empty podSelector, "
        f"{direction.capitalize()} among its policyTypes (as the API server defaults them when they are left "
        f"out: Ingress always, Egress only with egress rules) and no {direction} rules; a "
        "CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy that selects every pod of the namespace "
        f"and puts it into default deny for {direction} while allowing nothing (`{direction}: [{{}}]`, or "
        "`enableDefaultDeny`), or denies every peer; and an AdminNetworkPolicy or "
        "BaselineAdminNetworkPolicy whose subject covers the namespace with a Deny rule for every peer. "
        "It is reported once per namespace the input names: on its Namespace object when the input has "
        "one, otherwise on the `metadata.namespace` of the first object in that namespace (objects that "
        "name no namespace are not attributed to one: theirs is chosen when they are applied)."
    )


DEFAULT_DENY_INGRESS: BeyondRule = BeyondRule(
    id="defaultDenyIngress",
    level=CheckLevel.HARDENED,
    title="Namespace has no default-deny ingress network policy",
    severity=Severity.MEDIUM,
    reason="no default-deny ingress",
    rationale=_rationale("ingress"),
    remediation="Add to the namespace a NetworkPolicy with `podSelector: {}`, `policyTypes: [Ingress]` and no "
    "ingress rules, then allow each needed flow in its own policy.",
    fields=("spec.podSelector", "spec.policyTypes", "spec.ingress"),
    example=Example(failing=_DEPLOYMENT, fixed=_DEPLOYMENT + _deny("ingress"), whole=True),
    references=(NETPOL_URL, CILIUM_URL, ANP_URL),
    scope=Scope.NAMESPACE,
)

DEFAULT_DENY_EGRESS: BeyondRule = BeyondRule(
    id="defaultDenyEgress",
    level=CheckLevel.HARDENED,
    title="Namespace has no default-deny egress network policy",
    severity=Severity.MEDIUM,
    reason="no default-deny egress",
    rationale=_rationale("egress"),
    remediation="Add to the namespace a NetworkPolicy with `podSelector: {}`, `policyTypes: [Egress]` and no "
    "egress rules (policyTypes must name Egress: left out, it defaults to Ingress only when there are no "
    "egress rules), then allow each needed destination, DNS included, in its own policy.",
    fields=("spec.podSelector", "spec.policyTypes", "spec.egress"),
    example=Example(failing=_DEPLOYMENT, fixed=_DEPLOYMENT + _deny("egress"), whole=True),
    references=(NETPOL_URL, CILIUM_URL, ANP_URL),
    scope=Scope.NAMESPACE,
)


def _open(direction: str, peers: str) -> str:
    return f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web
  namespace: shop
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  policyTypes: [{direction.capitalize()}]
  {direction}:
  - {peers}
    ports:
    - {{port: {"8080" if direction == "ingress" else "443"}, protocol: TCP}}
"""


ALLOW_ALL_INGRESS: BeyondRule = BeyondRule(
    id="allowAllIngress",
    level=CheckLevel.HARDENED,
    title="Network policy rule allows ingress from every source",
    severity=Severity.MEDIUM,
    reason="allows all ingress",
    rationale="Network policies add up: a rule that allows every source (`ingress: [{}]`, or a rule without "
    "`from` or with `from: []`) opens the pods it selects to every pod in the cluster and to the outside, "
    "whatever the namespace's default-deny policy says. In Cilium, a rule for the `all` entity does the same, "
    "and so does a rule with ports only (Cilium applies it to every peer). Rules of a direction the policy "
    "does not enforce (not among its policyTypes) have no effect and are not reported.",
    remediation="Name the sources in `from` (podSelector, namespaceSelector, ipBlock); if a pod must be reachable "
    "from everywhere, keep that rule to its own pods and ports and say why in an annotation.",
    fields=("spec.ingress[*].from",),
    example=Example(
        failing=_open("ingress", "{}").replace("  - {}\n    ports:", "  - ports:"),
        fixed=_open("ingress", "from:\n    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: edge}}"),
        whole=True,
    ),
    references=(NETPOL_URL,),
    scope=Scope.OBJECT,
)

ALLOW_ALL_EGRESS: BeyondRule = BeyondRule(
    id="allowAllEgress",
    level=CheckLevel.HARDENED,
    title="Network policy rule allows egress to every destination",
    severity=Severity.MEDIUM,
    reason="allows all egress",
    rationale="A rule that allows every destination (`egress: [{}]`, or a rule without `to` or with `to: []`) "
    "lets the pods it selects reach every pod in the cluster, the node, the cloud metadata endpoint and the "
    "internet, whatever the namespace's default-deny policy says. In Cilium, a rule for the `all` entity does "
    "the same, and so does a rule with ports only.",
    remediation="Name the destinations in `to` (podSelector, namespaceSelector, ipBlock with the ranges needed).",
    fields=("spec.egress[*].to",),
    example=Example(
        failing=_open("egress", "{}").replace("  - {}\n    ports:", "  - ports:"),
        fixed=_open("egress", "to:\n    - ipBlock: {cidr: 203.0.113.0/24}"),
        whole=True,
    ),
    references=(NETPOL_URL,),
    scope=Scope.OBJECT,
)
