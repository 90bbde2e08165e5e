"""Network isolation: which namespaces deny ingress and egress by default, and which rules open everything.

A namespace **denies ingress by default** when a policy puts every pod in it into default deny
for ingress and allows nothing itself (other policies then allow what is needed):

- a ``NetworkPolicy`` in the namespace with an empty ``podSelector`` (no ``matchLabels``, no
  ``matchExpressions``; a missing selector is empty too), ``Ingress`` among its effective
  ``policyTypes`` and no ingress rules. ``policyTypes`` left out (or empty) is defaulted as the
  API server does (``SetDefaults_NetworkPolicy``): ``Ingress``, plus ``Egress`` only when the
  policy has egress rules. Egress alike.
- a ``CiliumNetworkPolicy`` (or a ``CiliumClusterwideNetworkPolicy`` covering the namespace)
  whose ``endpointSelector`` selects every pod of the namespace (only namespace-level keys:
  ``io.kubernetes.pod.namespace``, ``io.cilium.k8s.namespace.labels.*``) and either denies every
  peer (``ingressDeny`` with ``fromEntities: [all]``, or ``world`` and ``cluster``) or is in
  default deny for the direction — ``enableDefaultDeny`` when set, else as Cilium defaults it:
  when the rule has ``ingress`` or ``ingressDeny`` rules — while its ``ingress`` rules allow
  nothing (``ingress: [{}]``: in Cilium an empty rule matches no peer, unlike in a
  NetworkPolicy).
- an ``AdminNetworkPolicy`` or ``BaselineAdminNetworkPolicy`` whose subject covers the
  namespace's every pod, with a ``Deny`` rule for every peer on every port (ingress: ``namespaces:
  {}`` or ``pods`` with both selectors empty; egress: ``networks`` holding ``0.0.0.0/0`` and
  ``::/0``, which the API says cluster traffic is checked against too), not preceded by an
  ``Allow`` or ``Pass`` rule for every peer in the same policy or in an AdminNetworkPolicy of a
  higher precedence (a lower ``priority``).

A rule **opens everything** when it allows every source (ingress) or destination (egress): a
NetworkPolicy rule without ``from``/``to`` (or with an empty list), in a direction the policy
enforces; a Cilium rule for ``all`` entities, or with ports only (Cilium applies an L4-only rule
to every peer).

Cluster-scoped policies select namespaces by label; a namespace's labels are known from its
Namespace object (``kubernetes.io/metadata.name`` is always its name). Where the labels are not
in the input, only selectors on the name can be decided, and a policy that needs more is not
counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from podsec.analysis import selectors
from podsec.analysis.selectors import Problem, Requirement, Selector
from podsec.model.paths import Path, format_path

Direction = Literal["ingress", "egress"]
DIRECTIONS: tuple[Direction, Direction] = ("ingress", "egress")
NAME_LABEL = "kubernetes.io/metadata.name"

NETWORK_POLICY_GROUPS = frozenset({"networking.k8s.io", "extensions"})
CILIUM_GROUP = "cilium.io"
ADMIN_GROUP = "policy.networking.k8s.io"
KINDS = frozenset(
    {
        "NetworkPolicy",
        "CiliumNetworkPolicy",
        "CiliumClusterwideNetworkPolicy",
        "AdminNetworkPolicy",
        "BaselineAdminNetworkPolicy",
    }
)
"""Kinds `read_policy` understands (in their API groups)."""


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    """A namespace the input holds. ``name`` None: objects that name no namespace (they go to the
    namespace they are applied to). ``labels`` None: no Namespace object in the input."""

    name: str | None
    labels: Mapping[str, str] | None = None

    def label_set(self) -> dict[str, str] | None:
        """Its labels with ``kubernetes.io/metadata.name``; None when unknown (no name)."""
        if self.name is None:
            return None
        return {**(self.labels or {}), NAME_LABEL: self.name}


@dataclass(frozen=True, slots=True)
class Denial:
    """A policy that puts every pod of the namespaces it covers into default deny for one direction."""

    direction: Direction
    policy: str  # "NetworkPolicy shop/deny-all"
    how: str  # what in it denies, for messages
    namespaced: bool  # True: it covers only ``namespace``; False: cluster-scoped, ``scope`` decides
    namespace: str | None
    scope: Selector = ()  # over namespace labels (the name as kubernetes.io/metadata.name)
    priority: int | None = None  # AdminNetworkPolicy precedence (lower wins); None for other kinds
    admin: bool = False  # an AdminNetworkPolicy (its denial can be undone by higher-precedence openers)

    def covers(self, ns: NamespaceInfo) -> bool:
        if self.namespaced:
            if self.namespace != ns.name:
                return False
            if not self.scope:
                return True
        elif not self.scope:
            return True
        labels = ns.label_set()
        if labels is None:
            return False
        if ns.labels is None and any(r.key != NAME_LABEL for r in self.scope):
            return False  # needs labels the input does not hold
        return selectors.matches(self.scope, labels)


@dataclass(frozen=True, slots=True)
class Opener:
    """An AdminNetworkPolicy ``Allow``/``Pass`` rule for every peer: lower-precedence denials do not apply."""

    direction: Direction
    policy: str
    scope: Selector
    priority: int


@dataclass(frozen=True, slots=True)
class OpenRule:
    """A rule that allows every source (ingress) or destination (egress)."""

    direction: Direction
    path: Path  # the rule
    detail: str


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A policy in a namespace that does not give it the default deny, and why (for messages)."""

    direction: Direction
    namespace: str | None
    text: str


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    """What one policy object contributes, read once (picklable)."""

    policy: str
    denials: tuple[Denial, ...] = ()
    openers: tuple[Opener, ...] = ()
    open_rules: tuple[OpenRule, ...] = ()
    near_misses: tuple[NearMiss, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class Isolation:
    """Which policies give a namespace its default deny, per direction (empty: none does)."""

    namespace: NamespaceInfo
    ingress: tuple[Denial, ...]
    egress: tuple[Denial, ...]
    near_misses: Mapping[Direction, tuple[str, ...]] = field(default_factory=dict)

    def denials(self, direction: Direction) -> tuple[Denial, ...]:
        return self.ingress if direction == "ingress" else self.egress


def _group(api_version: object) -> str | None:
    if not isinstance(api_version, str):
        return None
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def is_policy(obj: Mapping[str, Any]) -> bool:
    kind, group = obj.get("kind"), _group(obj.get("apiVersion"))
    if kind == "NetworkPolicy":
        return group in NETWORK_POLICY_GROUPS
    if kind in ("CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"):
        return group == CILIUM_GROUP
    if kind in ("AdminNetworkPolicy", "BaselineAdminNetworkPolicy"):
        return group == ADMIN_GROUP
    return False


def _label(obj: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
    name = meta.get("name") if isinstance(meta.get("name"), str) else None
    kind = str(obj.get("kind"))
    return f"{kind} {ns + '/' if ns else ''}{name or '(unnamed)'}", ns, name


def read_policy(obj: Mapping[str, Any]) -> PolicyFacts | None:
    """The facts of a network policy object; None for any other object."""
    if not is_policy(obj):
        return None
    label, ns, name = _label(obj)
    kind = obj.get("kind")
    if kind == "NetworkPolicy":
        return _network_policy(obj, label, ns)
    if kind == "CiliumNetworkPolicy":
        return _cilium(obj, label, ns, clusterwide=False)
    if kind == "CiliumClusterwideNetworkPolicy":
        return _cilium(obj, label, None, clusterwide=True)
    return _admin(obj, label, name, baseline=kind == "BaselineAdminNetworkPolicy")


# --- NetworkPolicy ------------------------------------------------------------------------------

_PEERS = {"ingress": "from", "egress": "to"}
_TYPES = {"ingress": "Ingress", "egress": "Egress"}


def effective_policy_types(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """``spec.policyTypes`` as the API server stores it: given, or defaulted when left out or empty."""
    given = spec.get("policyTypes")
    if isinstance(given, list) and given:
        return tuple(str(t) for t in given)
    egress = spec.get("egress")
    return ("Ingress", "Egress") if isinstance(egress, list) and egress else ("Ingress",)


def _ports(ports: Any) -> str:
    if not isinstance(ports, list) or not ports:
        return "on every port"
    shown = []
    for p in ports:
        if not isinstance(p, dict):
            continue
        protocol = p.get("protocol") or "TCP"
        port, end = p.get("port"), p.get("endPort")
        if port is None:
            shown.append(f"every {protocol} port")
        elif end is not None:
            shown.append(f"{port}-{end}/{protocol}")
        else:
            shown.append(f"{port}/{protocol}")
    return "on " + ", ".join(shown) if shown else "on every port"


def _network_policy(obj: Mapping[str, Any], label: str, ns: str | None) -> PolicyFacts:
    problems: list[Problem] = []
    spec = obj.get("spec")
    if spec is None:
        spec = {}  # decoded as the zero spec: every pod, Ingress, no rules
    if not isinstance(spec, dict):
        return PolicyFacts(label, problems=(Problem(("spec",), "expected a mapping"),))
    selector = selectors.read(spec.get("podSelector"), ("spec", "podSelector"), problems)
    rules = _np_rules(spec, problems)
    _check_policy_types(spec.get("policyTypes"), problems)
    for d in DIRECTIONS:
        _check_peers(d, rules[d], problems)
    if problems or selector is None:
        return PolicyFacts(label, problems=tuple(problems))
    return _np_facts(label, ns, spec, selector, rules)


def _np_facts(
    label: str, ns: str | None, spec: Mapping[str, Any], selector: Selector, rules: Mapping[Direction, list[Any]]
) -> PolicyFacts:
    """What a valid NetworkPolicy means: its default deny, the near misses, the rules that open everything."""
    types = effective_policy_types(spec)
    given = spec.get("policyTypes")
    defaulted = " (defaulted)" if not (isinstance(given, list) and given) else ""
    types_text = f"policyTypes [{', '.join(types)}]{defaulted}"
    whole = selector == ()
    pods = "every pod in the namespace" if whole else f"pods matching {selectors.describe(selector)}"
    denials: list[Denial] = []
    near: list[NearMiss] = []
    open_rules: list[OpenRule] = []
    for d in DIRECTIONS:
        typed = _TYPES[d] in types
        if typed and whole and not rules[d]:
            denials.append(Denial(d, label, f"podSelector {{}}, {types_text}, no {d} rules", True, ns))
        else:
            text = _np_near_miss(d, label, rules[d], typed=typed, whole=whole, types_text=types_text, pods=pods)
            near.extend(NearMiss(d, ns, t) for t in text)
        if typed:  # rules of a direction the policy does not enforce have no effect
            open_rules.extend(_np_open_rules(d, rules[d], pods))
    return PolicyFacts(label, tuple(denials), (), tuple(open_rules), tuple(near))


def _np_rules(spec: Mapping[str, Any], problems: list[Problem]) -> dict[Direction, list[Any]]:
    """``spec.ingress`` and ``spec.egress`` (empty when missing or not a list: a problem then)."""
    rules: dict[Direction, list[Any]] = {}
    for d in DIRECTIONS:
        value = spec.get(d)
        if value is not None and not isinstance(value, list):
            problems.append(Problem(("spec", d), "expected a list of rules"))
        rules[d] = value if isinstance(value, list) else []
    return rules


def _check_policy_types(given: Any, problems: list[Problem]) -> None:
    if given is None:
        return
    if not isinstance(given, list):
        problems.append(Problem(("spec", "policyTypes"), "expected a list"))
        return
    for i, t in enumerate(given):
        if t not in ("Ingress", "Egress"):
            problems.append(
                Problem(("spec", "policyTypes", i), f'unsupported value "{t}": supported values: "Ingress", "Egress"')
            )
    if len(given) > 2:
        problems.append(Problem(("spec", "policyTypes"), "may not have more than 2 entries"))


def _check_peers(d: Direction, rules: list[Any], problems: list[Problem]) -> None:
    """Every rule a mapping, its peers a list, each peer naming at least one kind of peer."""
    for i, rule in enumerate(rules):
        if rule is not None and not isinstance(rule, dict):
            problems.append(Problem(("spec", d, i), "expected a rule (a mapping)"))
            continue
        peers = (rule or {}).get(_PEERS[d])
        if peers is not None and not isinstance(peers, list):
            problems.append(Problem(("spec", d, i, _PEERS[d]), "expected a list of peers"))
            continue
        for j, peer in enumerate(peers or []):
            if not isinstance(peer, dict) or not any(
                k in peer for k in ("podSelector", "namespaceSelector", "ipBlock")
            ):
                problems.append(Problem(("spec", d, i, _PEERS[d], j), "must specify a peer"))


def _np_near_miss(
    d: Direction, label: str, rules: list[Any], *, typed: bool, whole: bool, types_text: str, pods: str
) -> tuple[str, ...]:
    """Why a NetworkPolicy that does not deny ``d`` by default comes close (nothing when it does not)."""
    if whole and not typed:
        return (f"{label} selects every pod but its {types_text} leave out {_TYPES[d]}",)
    if whole:
        return (f"{label} selects every pod for {_TYPES[d]} but allows {len(rules)} rule(s)",)
    if typed and not rules:
        return (f"{label} denies {d} only for {pods} (its podSelector is not empty)",)
    return ()


def _np_open_rules(d: Direction, rules: list[Any], pods: str) -> Iterable[OpenRule]:
    """The rules of an enforced direction without peers: they allow every source or destination."""
    where = "from every source" if d == "ingress" else "to every destination"
    for i, rule in enumerate(rules):
        if not (rule or {}).get(_PEERS[d]):
            ports = _ports((rule or {}).get("ports"))
            at = format_path(("spec", d, i))
            yield OpenRule(d, ("spec", d, i), f"{d} rule {at} allows traffic {where} {ports} for {pods}")


# --- Cilium -------------------------------------------------------------------------------------

_NS_KEY = "io.kubernetes.pod.namespace"
_NS_LABELS = "io.cilium.k8s.namespace.labels."
_L3 = {
    "ingress": ("fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromGroups"),
    "egress": ("toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toNodes", "toGroups", "toServices", "toFQDNs"),
}
_L4 = ("toPorts", "icmps")
_ENTITIES = {"ingress": "fromEntities", "egress": "toEntities"}


def _strip_source(key: str) -> str:
    for prefix in ("k8s:", "any:"):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _cilium_scope(value: Any, path: Path, problems: list[Problem]) -> Selector | None:
    """The namespace-level requirements of an endpointSelector that selects every pod of the
    namespaces it matches; None when it selects only some pods (or cannot be read)."""
    selector = selectors.read(value, path, problems)
    if selector is None:
        return None
    out: list[Requirement] = []
    for r in selector:
        key = _strip_source(r.key)
        if key == _NS_KEY:
            out.append(Requirement(NAME_LABEL, r.operator, r.values))
        elif key.startswith(_NS_LABELS) and len(key) > len(_NS_LABELS):
            out.append(Requirement(key[len(_NS_LABELS) :], r.operator, r.values))
        else:
            return None  # a pod-level key: only some pods
    return tuple(out)


def _entities_all(rule: Mapping[str, Any], d: Direction) -> bool:
    entities = rule.get(_ENTITIES[d])
    if not isinstance(entities, list):
        return False
    names = {str(e) for e in entities}
    return "all" in names or ("cluster" in names and ("world" in names or {"world-ipv4", "world-ipv6"} <= names))


def _has_l4(rule: Mapping[str, Any]) -> bool:
    return any(isinstance(rule.get(k), list) and rule.get(k) for k in _L4)


def _allows_nothing(rule: Any, d: Direction) -> bool:
    """Cilium: a rule with no peer and no port matches nothing; so does an explicitly empty peer list."""
    if not isinstance(rule, dict):
        return True
    l3 = [rule.get(k) for k in _L3[d] if k in rule]
    if any(isinstance(v, list) and not v for v in l3):
        return True
    return not any(v for v in l3) and not _has_l4(rule)


def _cilium(obj: Mapping[str, Any], label: str, ns: str | None, *, clusterwide: bool) -> PolicyFacts:
    problems: list[Problem] = []
    denials: list[Denial] = []
    open_rules: list[OpenRule] = []
    near: list[NearMiss] = []
    for path, rule in _cilium_rules(obj, problems):
        if not isinstance(rule, dict):
            problems.append(Problem(path, "expected a rule (a mapping)"))
            continue
        if rule.get("endpointSelector") is None and rule.get("nodeSelector") is not None:
            continue  # a host policy: it selects nodes, not pods
        scope = _cilium_scope(rule.get("endpointSelector"), (*path, "endpointSelector"), problems)
        for d in DIRECTIONS:
            allows, denies = _rule_list(rule.get(d)), _rule_list(rule.get(f"{d}Deny"))
            open_rules.extend(_cilium_open_rules(path, d, allows))
            if scope is None:
                continue
            default_deny, because = _cilium_default_deny(rule.get("enableDefaultDeny"), d, allows, denies)
            how = _cilium_denies(path, d, allows, denies, because if default_deny else None)
            if how is not None:
                denials.append(Denial(d, label, how, not clusterwide, ns, scope))
            elif default_deny:
                text = f"{label} puts every pod into default deny for {d} but allows {len(allows)} rule(s)"
                near.append(NearMiss(d, ns, text))
    return PolicyFacts(label, tuple(denials), (), tuple(open_rules), tuple(near), tuple(problems))


def _cilium_rules(obj: Mapping[str, Any], problems: list[Problem]) -> list[tuple[Path, Any]]:
    """The rules of a Cilium policy, ``spec`` and every one of ``specs``, each with its path."""
    rules: list[tuple[Path, Any]] = []
    spec, specs = obj.get("spec"), obj.get("specs")
    if isinstance(spec, dict):
        rules.append((("spec",), spec))
    elif spec is not None:
        problems.append(Problem(("spec",), "expected a rule (a mapping)"))
    if isinstance(specs, list):
        rules.extend((("specs", i), s) for i, s in enumerate(specs))
    elif specs is not None:
        problems.append(Problem(("specs",), "expected a list of rules"))
    if not rules and not problems:
        problems.append(Problem((), "a Cilium policy needs spec or specs"))
    return rules


def _rule_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _cilium_default_deny(switches: Any, d: Direction, allows: list[Any], denies: list[Any]) -> tuple[bool, str]:
    """Whether a Cilium rule is in default deny for ``d``, and why: ``enableDefaultDeny`` when it
    sets the direction, else as Cilium defaults it (when the rule has rules for the direction)."""
    explicit = switches.get(d) if isinstance(switches, dict) else None
    if isinstance(explicit, bool):
        return explicit, "enableDefaultDeny"
    return bool(allows or denies), f"it has {d} rules"


def _cilium_open_rules(path: Path, d: Direction, allows: list[Any]) -> Iterable[OpenRule]:
    """The allow rules for every peer: ``all`` entities, or ports without peers."""
    for i, r in enumerate(allows):
        if not isinstance(r, dict):
            continue
        rule_at = f"{d} rule {format_path((*path, d, i))}"
        if _entities_all(r, d):
            yield OpenRule(d, (*path, d, i), f"{rule_at} allows every peer (entities: all)")
        elif not any(k in r for k in _L3[d]) and _has_l4(r):
            ports = _cilium_ports(r)
            why = "a rule with ports only applies to every peer"
            yield OpenRule(d, (*path, d, i), f"{rule_at} allows every peer {ports} ({why})")


def _cilium_denies(
    path: Path, d: Direction, allows: list[Any], denies: list[Any], default_deny: str | None
) -> str | None:
    """How a Cilium rule denies every peer for ``d`` (for messages); None when it does not.
    ``default_deny``: why the rule is in default deny for ``d``; None when it is not."""
    where = format_path(path)
    deny_all = next(
        (i for i, r in enumerate(denies) if isinstance(r, dict) and _entities_all(r, d) and not _has_l4(r)),
        None,
    )
    if deny_all is not None:
        return f"{where}.{d}Deny[{deny_all}] denies every peer"
    if default_deny is not None and all(_allows_nothing(r, d) for r in allows):
        return f"{where} is in default deny for {d} ({default_deny}) and its {d} rules allow nothing"
    return None


def _cilium_ports(rule: Mapping[str, Any]) -> str:
    shown = []
    for pr in rule.get("toPorts") or []:
        for p in (pr.get("ports") or []) if isinstance(pr, dict) else []:
            if isinstance(p, dict):
                shown.append(f"{p.get('port')}/{p.get('protocol') or 'ANY'}")
    return "on " + ", ".join(shown) if shown else "on the ports it names"


# --- AdminNetworkPolicy, BaselineAdminNetworkPolicy ---------------------------------------------

_ALL_NETWORKS = frozenset({"0.0.0.0/0", "::/0"})


def _admin_scope(subject: Any, problems: list[Problem]) -> Selector | None:
    """The namespaces whose every pod the subject selects; None when it selects only some pods."""
    if not isinstance(subject, dict):
        problems.append(Problem(("spec", "subject"), "expected a subject (namespaces or pods)"))
        return None
    if "namespaces" in subject:
        return selectors.read(subject.get("namespaces") or {}, ("spec", "subject", "namespaces"), problems)
    pods = subject.get("pods")
    if isinstance(pods, dict):
        pod_sel = selectors.read(pods.get("podSelector") or {}, ("spec", "subject", "pods", "podSelector"), problems)
        ns_sel = selectors.read(
            pods.get("namespaceSelector") or {}, ("spec", "subject", "pods", "namespaceSelector"), problems
        )
        return ns_sel if pod_sel == () else None
    problems.append(Problem(("spec", "subject"), "expected namespaces or pods"))
    return None


def _every_peer(rule: Mapping[str, Any], d: Direction) -> bool:
    if rule.get("ports"):
        return False
    peers = rule.get("from" if d == "ingress" else "to")
    if not isinstance(peers, list):
        return False
    if d == "egress":
        networks = {str(n) for p in peers if isinstance(p, dict) for n in (p.get("networks") or [])}
        return networks >= _ALL_NETWORKS
    return any(_every_source(p) for p in peers if isinstance(p, dict))


def _every_source(peer: Mapping[str, Any]) -> bool:
    """An ingress peer for every pod: ``namespaces: {}``, or ``pods`` with both selectors empty."""
    if "namespaces" in peer and not peer.get("namespaces"):
        return True
    pods = peer.get("pods")
    return isinstance(pods, dict) and not pods.get("namespaceSelector") and not pods.get("podSelector")


def _admin(obj: Mapping[str, Any], label: str, name: str | None, *, baseline: bool) -> PolicyFacts:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return PolicyFacts(label, problems=(Problem(("spec",), "expected a mapping"),))
    problems = _admin_header_problems(spec, name, baseline=baseline)
    scope = _admin_scope(spec.get("subject"), problems)
    if problems:
        return PolicyFacts(label, problems=tuple(problems))
    priority = None if baseline else spec.get("priority")  # an int: checked above
    actions = ("Allow", "Deny") if baseline else ("Allow", "Deny", "Pass")
    denials: list[Denial] = []
    openers: list[Opener] = []
    for d in DIRECTIONS:
        opened = False  # an Allow or Pass rule for every peer comes first: later denials never apply
        for i, action in _rules_for_every_peer(spec.get(d), d, actions, problems):
            if action != "Deny":
                opened = True
                if priority is not None and scope is not None:
                    openers.append(Opener(d, label, scope, priority))
            elif not opened and scope is not None:
                how = f"spec.{d}[{i}] denies every peer (action Deny)"
                denials.append(Denial(d, label, how, False, None, scope, priority, not baseline))
    return PolicyFacts(label, tuple(denials), tuple(openers), problems=tuple(problems))


def _admin_header_problems(spec: Mapping[str, Any], name: str | None, *, baseline: bool) -> list[Problem]:
    """What is wrong with an (Baseline)AdminNetworkPolicy's name and priority."""
    problems: list[Problem] = []
    if baseline and name != "default":
        problems.append(Problem(("metadata", "name"), 'a BaselineAdminNetworkPolicy must be named "default"'))
    priority = spec.get("priority")
    if not baseline and (not isinstance(priority, int) or isinstance(priority, bool)):
        problems.append(Problem(("spec", "priority"), "expected an integer priority"))
    return problems


def _rules_for_every_peer(
    rules: Any, d: Direction, actions: tuple[str, ...], problems: list[Problem]
) -> Iterable[tuple[int, str]]:
    """The index and action of each rule of ``spec.<d>`` for every peer on every port, in order;
    rules without a valid action are problems."""
    if rules is not None and not isinstance(rules, list):
        problems.append(Problem(("spec", d), "expected a list of rules"))
        return
    for i, rule in enumerate(rules or []):
        if not isinstance(rule, dict) or rule.get("action") not in actions:
            problems.append(Problem(("spec", d, i, "action"), f"expected one of {', '.join(actions)}"))
        elif _every_peer(rule, d):
            yield i, rule["action"]


# --- namespaces ---------------------------------------------------------------------------------


def _opened(denial: Denial, ns: NamespaceInfo, openers: Sequence[Opener]) -> bool:
    """An AdminNetworkPolicy denial undone by an Allow/Pass-everything rule of higher (or equal:
    undefined order) precedence."""
    if not denial.admin or denial.priority is None:
        return False
    for o in openers:
        if o.direction != denial.direction or o.priority > denial.priority or o.policy == denial.policy:
            continue
        if Denial(o.direction, o.policy, "", False, None, o.scope).covers(ns):
            return True
    return False


def isolation(namespaces: Iterable[NamespaceInfo], policies: Iterable[PolicyFacts]) -> list[Isolation]:
    """For each namespace, the policies that give it its default deny, per direction."""
    facts = list(policies)
    denials = [d for f in facts for d in f.denials]
    openers = [o for f in facts for o in f.openers]
    out = []
    for ns in namespaces:
        found: dict[Direction, tuple[Denial, ...]] = {}
        near: dict[Direction, tuple[str, ...]] = {}
        for d in DIRECTIONS:
            found[d] = tuple(x for x in denials if x.direction == d and x.covers(ns) and not _opened(x, ns, openers))
            near[d] = tuple(m.text for f in facts for m in f.near_misses if m.direction == d and m.namespace == ns.name)
        out.append(Isolation(ns, found["ingress"], found["egress"], near))
    return out
