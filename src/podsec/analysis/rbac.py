"""Kubernetes RBAC as the API server decides it, and who can run (privileged) pods.

`Authorizer` restates the RBAC authorizer (``k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac``):
a request is allowed when a ClusterRoleBinding, or a RoleBinding in the request's namespace,
names the user (by name, one of its groups, or as its service account — a RoleBinding's
service account without a namespace is in the binding's), and a rule of the role it refers to
matches: ``*`` or the verb; ``*`` or the API group; ``*``, ``resource/subresource``, or
``*/subresource`` for a subresource; ``resourceNames`` empty or holding the name (so they never
restrict ``create``, whose request has no name). A RoleBinding may refer to a ClusterRole: its
rules then apply in the binding's namespace only. ClusterRoles with an ``aggregationRule`` have
the rules of every other ClusterRole its selectors match, as the aggregation controller keeps
them (their own ``rules`` are replaced), to a fixed point.

`analyze` asks, per namespace, which subjects of the bindings hold each `Power` (`POWERS`):
creating pods; creating, updating or patching pod controllers; updating ephemeral containers;
exec, attach and port-forward (``create`` on the subresource from 1.35 on, where websocket
requests need it; ``get`` sufficed before; and ``get`` on ``nodes/proxy``, the kubelet's API);
escalate and bind on roles; impersonation; changing a namespace's labels (its Pod Security
level). Joined with each namespace's Pod Security Admission enforce level, it answers **who can
run a privileged pod, and where**: those who can create pods, pod controllers or ephemeral
containers in a namespace that enforces ``privileged`` (or nothing), or whose labels they can
change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podsec.analysis import selectors
from podsec.analysis.selectors import Problem, Selector
from podsec.model.paths import Path
from podsec.model.standards import Level

GROUP = "rbac.authorization.k8s.io"
ROLE_KINDS = frozenset({"Role", "ClusterRole"})
BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})
KINDS = ROLE_KINDS | BINDING_KINDS
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")
ANY_NAME: None = None
"""A request name meaning "some object": rules with ``resourceNames`` grant the power for those names."""


@dataclass(frozen=True, slots=True)
class Request:
    """What a request asks to do (the authorizer's resource attributes)."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    name: str | None = ""  # "" no name (create, list); None: any one name
    namespace: str | None = None  # None with a namespaced request: objects that name no namespace
    cluster: bool = False  # a cluster-scoped request (only ClusterRoleBindings grant it)

    def __str__(self) -> str:
        res = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        group = f".{self.group}" if self.group else ""
        named = f" {self.name}" if self.name else ""
        return f"{self.verb} {res}{group}{named}"


@dataclass(frozen=True, slots=True)
class Rule:
    """A PolicyRule, with where it was written (the role and index, for aggregated roles the source role)."""

    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    names: frozenset[str] = frozenset()
    urls: frozenset[str] = frozenset()
    origin: str = ""  # "ClusterRole edit"
    index: int = 0

    def allows(self, r: Request) -> bool:
        """``RuleAllows`` for a resource request."""
        if not self.resources:
            return False
        if "*" not in self.verbs and r.verb not in self.verbs:
            return False
        if "*" not in self.groups and r.group not in self.groups:
            return False
        if not self._resource(r):
            return False
        if r.name is None or not self.names:
            return True
        return r.name in self.names

    def _resource(self, r: Request) -> bool:
        combined = f"{r.resource}/{r.subresource}" if r.subresource else r.resource
        for res in self.resources:
            if res == "*" or res == combined:
                return True
            if r.subresource and res == f"*/{r.subresource}":
                return True
        return False


@dataclass(frozen=True, slots=True)
class Role:
    kind: str  # Role | ClusterRole
    namespace: str | None
    name: str
    rules: tuple[Rule, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    aggregation: tuple[Selector, ...] | None = None  # ClusterRole aggregationRule.clusterRoleSelectors

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # ServiceAccount | User | Group
    name: str
    namespace: str | None = None  # service accounts (defaulted to a RoleBinding's namespace)

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount {self.namespace or '?'}/{self.name}"
        return f"{self.kind} {self.name}"

    def applies_to(self, user: UserInfo) -> bool:
        if self.kind == "User":
            return user.name == self.name
        if self.kind == "Group":
            return self.name in user.groups
        if self.kind == "ServiceAccount":
            return self.namespace is not None and user.name == f"system:serviceaccount:{self.namespace}:{self.name}"
        return False


@dataclass(frozen=True, slots=True)
class Binding:
    kind: str  # RoleBinding | ClusterRoleBinding
    namespace: str | None
    name: str
    role_kind: str
    role_name: str
    subjects: tuple[tuple[int, Subject], ...]  # (index in the object's subjects, subject)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"

    @property
    def role_key(self) -> tuple[str, str | None, str]:
        return (self.role_kind, self.namespace if self.role_kind == "Role" else None, self.role_name)


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    groups: frozenset[str] = frozenset()

    @classmethod
    def service_account(cls, namespace: str, name: str) -> UserInfo:
        groups = {"system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"}
        return cls(f"system:serviceaccount:{namespace}:{name}", frozenset(groups))


# --- reading objects ----------------------------------------------------------------------------


def _meta(obj: Mapping[str, Any]) -> tuple[str | None, str | None, dict[str, str]]:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    ns = meta.get("namespace") if isinstance(meta.get("namespace"), str) else None
    name = meta.get("name") if isinstance(meta.get("name"), str) else None
    labels = meta.get("labels")
    return ns, name, {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def is_rbac(obj: Mapping[str, Any]) -> bool:
    api = obj.get("apiVersion")
    return obj.get("kind") in KINDS and isinstance(api, str) and api.rpartition("/")[0] == GROUP


def _strings(value: Any, path: Path, problems: list[Problem]) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(path, "expected a list of strings"))
        return frozenset()
    return frozenset(value)


def _items(obj: Mapping[str, Any], key: str, what: str, problems: list[Problem]) -> list[Any]:
    raw = obj.get(key)
    if raw is not None and not isinstance(raw, list):
        problems.append(Problem((key,), f"expected a list of {what}"))
    return raw if isinstance(raw, list) else []


def _named(obj: Mapping[str, Any], what: str, problems: list[Problem]) -> tuple[str, str | None, str | None]:
    """(kind, namespace, name), with a problem when the object has no name."""
    ns, name, _ = _meta(obj)
    if not name:
        problems.append(Problem(("metadata", "name"), f"a {what} needs a name"))
    return str(obj.get("kind")), ns, name


def read_role(obj: Mapping[str, Any]) -> tuple[Role | None, list[Problem]]:
    """A Role or ClusterRole; None (with problems) when the API server would refuse it."""
    problems: list[Problem] = []
    kind, ns, name = _named(obj, "role", problems)
    cluster = kind == "ClusterRole"
    label = f"{kind} {ns + '/' if ns and not cluster else ''}{name}"
    rules = []
    for i, item in enumerate(_items(obj, "rules", "rules", problems)):
        if not isinstance(item, dict):
            problems.append(Problem(("rules", i), "expected a rule (a mapping)"))
            continue
        rule = _read_rule(item, ("rules", i), label, i, problems)
        problems += _rule_problems(rule, ("rules", i), cluster=cluster)
        rules.append(rule)
    aggregation = _aggregation(obj.get("aggregationRule"), problems) if cluster else None
    if problems or not name:
        return None, problems
    return Role(kind, None if cluster else ns, name, tuple(rules), _meta(obj)[2], aggregation), problems


def _read_rule(item: Mapping[str, Any], path: Path, origin: str, index: int, problems: list[Problem]) -> Rule:
    def strings(key: str) -> frozenset[str]:
        return _strings(item.get(key), (*path, key), problems)

    return Rule(
        strings("verbs"),
        strings("apiGroups"),
        strings("resources"),
        strings("resourceNames"),
        strings("nonResourceURLs"),
        origin,
        index,
    )


def _rule_problems(rule: Rule, path: Path, *, cluster: bool) -> Iterable[Problem]:
    """What the API server's validation refuses in a rule (``ValidatePolicyRule``)."""
    if not rule.verbs:
        yield Problem((*path, "verbs"), "verbs must contain at least one value")
    if rule.urls:
        if not cluster:
            yield Problem((*path, "nonResourceURLs"), "namespaced rules cannot apply to non-resource URLs")
        if rule.groups or rule.resources or rule.names:
            yield Problem(
                (*path, "nonResourceURLs"), "rules cannot apply to both regular resources and non-resource URLs"
            )
        return
    if not rule.groups:
        yield Problem((*path, "apiGroups"), "resource rules must supply at least one api group")
    if not rule.resources:
        yield Problem((*path, "resources"), "resource rules must supply at least one resource")


def _aggregation(agg: Any, problems: list[Problem]) -> tuple[Selector, ...] | None:
    """A ClusterRole's ``aggregationRule.clusterRoleSelectors``; None when it has none (or it cannot be read)."""
    if agg is None:
        return None
    sels = agg.get("clusterRoleSelectors") if isinstance(agg, dict) else None
    if not isinstance(agg, dict) or (sels is not None and not isinstance(sels, list)):
        problems.append(Problem(("aggregationRule",), "expected clusterRoleSelectors (a list of label selectors)"))
        return None
    read = [
        selectors.read(s, ("aggregationRule", "clusterRoleSelectors", i), problems) for i, s in enumerate(sels or [])
    ]
    return tuple(s for s in read if s is not None)


def read_binding(obj: Mapping[str, Any]) -> tuple[Binding | None, list[Problem]]:
    """A RoleBinding or ClusterRoleBinding; None (with problems) when the API server would refuse it."""
    problems: list[Problem] = []
    kind, ns, name = _named(obj, "binding", problems)
    cluster = kind == "ClusterRoleBinding"
    role_kind, role_name = _role_ref(obj.get("roleRef"), problems, cluster=cluster)
    subjects = []
    for i, item in enumerate(_items(obj, "subjects", "subjects", problems)):
        subject = _read_subject(item, ("subjects", i), ns, problems, cluster=cluster)
        if subject is not None:
            subjects.append((i, subject))
    if problems or not name:
        return None, problems
    return Binding(kind, None if cluster else ns, name, role_kind, role_name, tuple(subjects)), problems


def _role_ref(ref: Any, problems: list[Problem], *, cluster: bool) -> tuple[str, str]:
    """A binding's ``roleRef``: the role's kind and name ("" where missing, with a problem)."""
    if not isinstance(ref, dict):
        problems.append(Problem(("roleRef",), "a binding needs a roleRef"))
        return "", ""
    role_kind, role_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
    if (ref.get("apiGroup") or GROUP) != GROUP:  # an empty one is defaulted (SetDefaults_RoleBinding)
        problems.append(Problem(("roleRef", "apiGroup"), f'supported values: "{GROUP}"'))
    allowed = ("ClusterRole",) if cluster else ("Role", "ClusterRole")
    if role_kind not in allowed:
        problems.append(Problem(("roleRef", "kind"), "supported values: " + ", ".join(f'"{k}"' for k in allowed)))
    if not role_name:
        problems.append(Problem(("roleRef", "name"), "a roleRef needs a name"))
    return role_kind, role_name


def _read_subject(item: Any, path: Path, ns: str | None, problems: list[Problem], *, cluster: bool) -> Subject | None:
    """A binding's subject; None (with a problem) when the API server would refuse it."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item.get("name"):
        problems.append(Problem(path, "a subject needs a kind and a name"))
        return None
    kind, name = item.get("kind"), item["name"]
    group = item.get("apiGroup") or ""
    if kind not in SUBJECT_KINDS:
        problems.append(Problem((*path, "kind"), 'supported values: "ServiceAccount", "User", "Group"'))
        return None
    if kind == "ServiceAccount":
        return _service_account(item, path, ns, problems, cluster=cluster)
    if group and group != GROUP:  # an empty one is defaulted to GROUP (SetDefaults_Subject)
        problems.append(Problem((*path, "apiGroup"), f'supported values: "{GROUP}"'))
        return None
    return _user_subject(kind, name)


def _service_account(
    item: Mapping[str, Any], path: Path, ns: str | None, problems: list[Problem], *, cluster: bool
) -> Subject | None:
    """A ServiceAccount subject; in a RoleBinding its namespace defaults to the binding's."""
    if item.get("apiGroup"):
        problems.append(Problem((*path, "apiGroup"), 'supported values: ""'))
        return None
    sns = item.get("namespace") if isinstance(item.get("namespace"), str) and item.get("namespace") else None
    if sns is None and cluster:
        problems.append(Problem((*path, "namespace"), "a ClusterRoleBinding's service account needs a namespace"))
        return None
    return Subject("ServiceAccount", item["name"], sns or ns)


def _user_subject(kind: str, name: str) -> Subject:
    """A User named ``system:serviceaccount:NS:NAME`` is that service account."""
    parts = name.split(":")
    if kind == "User" and len(parts) == 4 and parts[:2] == ["system", "serviceaccount"] and parts[2] and parts[3]:
        return Subject("ServiceAccount", parts[3], parts[2])
    return Subject(kind, name)


# --- authorization ------------------------------------------------------------------------------


class Authorizer:
    """RBAC over a fixed set of roles and bindings (those of the input, or of a cluster)."""

    def __init__(self, roles: Iterable[Role], bindings: Iterable[Binding]) -> None:
        self.roles: dict[tuple[str, str | None, str], Role] = {}
        for role in roles:
            self.roles[(role.kind, role.namespace, role.name)] = role
        self.bindings = tuple(bindings)
        self.rules = _aggregate(self.roles)

    def role_rules(self, binding: Binding) -> tuple[Rule, ...]:
        """The rules a binding grants (none when its role is not known)."""
        return self.rules.get(binding.role_key, ())

    def applicable(self, request: Request) -> Iterable[Binding]:
        """The bindings that apply to ``request``: ClusterRoleBindings, and the RoleBindings of its namespace."""
        for b in self.bindings:
            if b.kind == "ClusterRoleBinding" or (not request.cluster and b.namespace == request.namespace):
                yield b

    def authorize(self, user: UserInfo, request: Request) -> Rule | None:
        """The rule that allows ``request`` for ``user``; None when RBAC denies it."""
        for b in self.applicable(request):
            if not any(s.applies_to(user) for _, s in b.subjects):
                continue
            for rule in self.role_rules(b):
                if rule.allows(request):
                    return rule
        return None


def _aggregate(
    roles: Mapping[tuple[str, str | None, str], Role],
) -> dict[tuple[str, str | None, str], tuple[Rule, ...]]:
    """Every role's rules; aggregated ClusterRoles as the aggregation controller keeps them."""
    rules = {key: role.rules for key, role in roles.items()}
    aggregated = [r for r in roles.values() if r.kind == "ClusterRole" and r.aggregation is not None]
    cluster_roles = sorted((r for r in roles.values() if r.kind == "ClusterRole"), key=lambda r: r.name)
    for _ in range(len(aggregated) + 1):  # each round can only add rules reached one level further
        changed = False
        for agg in aggregated:
            merged = _aggregated_rules(agg, cluster_roles, rules)
            key = (agg.kind, None, agg.name)
            if merged != rules[key]:
                rules[key] = merged
                changed = True
        if not changed:
            break
    return rules


def _aggregated_rules(
    agg: Role, cluster_roles: Sequence[Role], rules: Mapping[tuple[str, str | None, str], tuple[Rule, ...]]
) -> tuple[Rule, ...]:
    """The rules of the ClusterRoles ``agg``'s selectors match (as they are now), each rule once."""
    merged: dict[tuple[frozenset[str], ...], Rule] = {}
    for sel in agg.aggregation or ():
        for other in cluster_roles:
            if other.name == agg.name or not selectors.matches(sel, other.labels):
                continue
            for rule in rules[(other.kind, None, other.name)]:
                merged.setdefault((rule.verbs, rule.groups, rule.resources, rule.names, rule.urls), rule)
    return tuple(merged.values())


# --- powers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource whose create/update/patch runs pods (a pod controller), and whether it is namespaced."""

    group: str
    resource: str
    namespaced: bool = True


BUILTIN_CONTROLLERS: tuple[Resource, ...] = (
    Resource("", "replicationcontrollers"),
    Resource("apps", "deployments"),
    Resource("apps", "replicasets"),
    Resource("apps", "statefulsets"),
    Resource("apps", "daemonsets"),
    Resource("batch", "jobs"),
    Resource("batch", "cronjobs"),
)

EXEC_CREATE_ONLY = (1, 35)
"""From this version websocket exec/attach/port-forward requests need ``create`` (``get`` sufficed before)."""


@dataclass(frozen=True, slots=True)
class Power:
    id: str
    title: str
    runs_pods: bool = False  # lets the subject run a pod of its choosing (so: a privileged one, where PSA allows)


CREATE_PODS = Power("createPods", "create pods", runs_pods=True)
CONTROLLERS = Power("podControllers", "create, update or patch pod controllers", runs_pods=True)
EPHEMERAL = Power("ephemeralContainers", "add ephemeral containers to pods", runs_pods=True)
EXEC = Power("exec", "exec, attach or port-forward into pods")
ESCALATE = Power("escalate", "escalate roles (grant permissions it does not hold)")
BIND = Power("bind", "bind roles it does not hold")
IMPERSONATE = Power("impersonate", "impersonate users, groups or service accounts")
RELABEL = Power("relabelNamespace", "change the namespace's labels (its Pod Security level)")
POWERS: tuple[Power, ...] = (CREATE_PODS, CONTROLLERS, EPHEMERAL, EXEC, ESCALATE, BIND, IMPERSONATE, RELABEL)


def requests_for(
    power: Power,
    namespace: str | None,
    *,
    version: tuple[int, int],
    controllers: Sequence[Resource] = BUILTIN_CONTROLLERS,
    everywhere: bool = False,
) -> tuple[Request, ...]:
    """The requests any one of which gives ``power`` in ``namespace`` (None: the namespace of objects
    that name none), or with ``everywhere`` in every namespace; cluster-scoped ones are marked."""
    ns = namespace
    if power is CREATE_PODS:
        return (Request("create", "", "pods", namespace=ns),)
    if power is CONTROLLERS:
        return _controller_requests(controllers, ns)
    if power is EPHEMERAL:
        return tuple(Request(v, "", "pods", "ephemeralcontainers", ANY_NAME, ns) for v in ("update", "patch"))
    if power is EXEC:
        return _exec_requests(ns, version)
    if power is ESCALATE or power is BIND:
        return (
            Request(power.id, GROUP, "roles", name=ANY_NAME, namespace=ns),
            Request(power.id, GROUP, "clusterroles", name=ANY_NAME, cluster=True),
        )
    if power is IMPERSONATE:
        return (
            Request("impersonate", "", "serviceaccounts", name=ANY_NAME, namespace=ns),
            Request("impersonate", "", "users", name=ANY_NAME, cluster=True),
            Request("impersonate", "", "groups", name=ANY_NAME, cluster=True),
            Request("impersonate", "authentication.k8s.io", "uids", name=ANY_NAME, cluster=True),
        )
    assert power is RELABEL
    if everywhere or namespace is None:  # any (or an unknown) namespace: only rules without resourceNames
        return tuple(Request(v, "", "namespaces", namespace=ns) for v in ("update", "patch"))
    # a request on a namespace object carries that namespace as its own namespace attribute
    return tuple(Request(v, "", "namespaces", name=namespace, namespace=namespace) for v in ("update", "patch"))


def _controller_requests(controllers: Sequence[Resource], ns: str | None) -> tuple[Request, ...]:
    """Create (no name), update or patch (any name) of every pod controller."""
    return tuple(
        Request(
            verb,
            c.group,
            c.resource,
            name="" if verb == "create" else ANY_NAME,
            namespace=ns,
            cluster=not c.namespaced,
        )
        for c in controllers
        for verb in ("create", "update", "patch")
    )


def _exec_requests(ns: str | None, version: tuple[int, int]) -> tuple[Request, ...]:
    """exec, attach and port-forward on pods (``get`` too before 1.35), and the kubelet's API via ``nodes/proxy``."""
    verbs = ("create",) if version >= EXEC_CREATE_ONLY else ("create", "get")
    via_pods = tuple(
        Request(v, "", "pods", sub, ANY_NAME, ns) for sub in ("exec", "attach", "portforward") for v in verbs
    )
    return (*via_pods, *(Request(v, "", "nodes", "proxy", ANY_NAME, cluster=True) for v in ("get", "create")))


@dataclass(frozen=True, slots=True)
class Grant:
    """A subject of a binding holds a power in a namespace, or everywhere, through a rule."""

    power: Power
    subject: Subject
    binding: Binding
    subject_index: int
    rule: Rule
    request: Request
    namespace: str | None  # the RoleBinding's namespace (None: objects that name none)
    everywhere: bool = False  # a ClusterRoleBinding: in every namespace (and cluster-wide)

    def applies_in(self, namespace: str | None) -> bool:
        return self.everywhere or self.namespace == namespace


@dataclass(frozen=True, slots=True)
class PrivilegedRunner:
    """A subject that can run a privileged pod: where, and how."""

    subject: Subject
    namespaces: tuple[str | None, ...]  # the input's namespaces (None: the unnamed one) where it can
    everywhere: bool  # a ClusterRoleBinding: also every namespace not in the input that has no enforce label
    grants: tuple[Grant, ...]  # what lets it run pods there (and change labels, where that is how)


@dataclass(frozen=True, slots=True)
class Access:
    """The analysis: every grant, and who can run privileged pods where."""

    grants: tuple[Grant, ...]
    namespaces: Mapping[str | None, Level]  # the input's namespaces and their enforce level
    privileged: tuple[PrivilegedRunner, ...]
    version: tuple[int, int]

    def holders(self, power: Power, namespace: str | None) -> list[Grant]:
        """Grants of ``power`` that apply in ``namespace`` (ClusterRoleBindings apply everywhere)."""
        return [g for g in self.grants if g.power is power and g.applies_in(namespace)]


def _first_allowing(rules: Sequence[Rule], requests: Sequence[Request]) -> tuple[Rule, Request] | None:
    for rule in rules:
        for request in requests:
            if rule.allows(request):
                return rule, request
    return None


Requests = Callable[[str | None, bool], Sequence[Request]]
"""``(namespace, everywhere) -> requests`` any one of which gives a power there."""


def grants_of(authorizer: Authorizer, power: Power, requests: Requests) -> list[Grant]:
    """Every binding subject that holds ``power``, in its RoleBinding's namespace or everywhere."""
    out: list[Grant] = []
    for b in authorizer.bindings:
        rules = authorizer.role_rules(b)
        if not rules or not b.subjects:
            continue
        everywhere = b.kind == "ClusterRoleBinding"
        reqs = requests(b.namespace, everywhere)
        if not everywhere:  # a RoleBinding never grants cluster-scoped requests
            reqs = tuple(r for r in reqs if not r.cluster)
        found = _first_allowing(rules, reqs)
        if found is not None:
            rule, request = found
            out.extend(Grant(power, s, b, i, rule, request, b.namespace, everywhere) for i, s in b.subjects)
    return out


def analyze(
    authorizer: Authorizer,
    namespaces: Mapping[str | None, Level],
    *,
    version: tuple[int, int],
    controllers: Sequence[Resource] = BUILTIN_CONTROLLERS,
) -> Access:
    """Who holds each power where, and who can run privileged pods where.

    ``namespaces`` are those the input holds with their Pod Security Admission enforce level
    (``privileged`` when unlabelled). Namespaces of RoleBindings are added (unlabelled).
    """
    levels: dict[str | None, Level] = dict(namespaces)
    for b in authorizer.bindings:
        if b.kind == "RoleBinding":
            levels.setdefault(b.namespace, Level.PRIVILEGED)
    found: list[Grant] = []
    for power in POWERS:

        def requests(ns: str | None, everywhere: bool, p: Power = power) -> Sequence[Request]:
            return requests_for(p, ns, version=version, controllers=controllers, everywhere=everywhere)

        found += grants_of(authorizer, power, requests)
    found += _relabel_named(authorizer, levels, found)
    return Access(tuple(found), levels, _privileged(found, levels), version)


def _relabel_named(authorizer: Authorizer, levels: Mapping[str | None, Level], grants: Sequence[Grant]) -> list[Grant]:
    """ClusterRoleBindings that allow changing only some namespaces (resourceNames): a grant per namespace."""
    out: list[Grant] = []
    for b in authorizer.bindings:
        if b.kind != "ClusterRoleBinding" or any(g.binding is b and g.power is RELABEL for g in grants):
            continue  # already allowed for every namespace
        for ns in levels:
            if ns is None:
                continue
            found = _first_allowing(authorizer.role_rules(b), requests_for(RELABEL, ns, version=(1, 0)))
            if found is not None:
                rule, request = found
                out.extend(Grant(RELABEL, s, b, i, rule, request, ns) for i, s in b.subjects)
    return out


def _privileged(grants: Sequence[Grant], levels: Mapping[str | None, Level]) -> tuple[PrivilegedRunner, ...]:
    by_subject: dict[Subject, list[Grant]] = {}
    for g in grants:
        by_subject.setdefault(g.subject, []).append(g)
    runners = (_privileged_runner(subject, held, levels) for subject, held in by_subject.items())
    return tuple(r for r in runners if r is not None)


def _privileged_runner(
    subject: Subject, held: Sequence[Grant], levels: Mapping[str | None, Level]
) -> PrivilegedRunner | None:
    """Where a subject can run a privileged pod: namespaces that enforce ``privileged`` where it can
    run pods, or whose labels it can also change; everywhere with a ClusterRoleBinding."""
    runs = [g for g in held if g.power.runs_pods]
    if not runs:
        return None
    relabel = [g for g in held if g.power is RELABEL]
    where: list[str | None] = []
    used: list[Grant] = []
    for ns, level in levels.items():
        how = _runs_privileged_in(ns, level, runs, relabel)
        if how:
            where.append(ns)
            used += how
    everywhere = [g for g in runs if g.everywhere]
    used += everywhere
    if not where and not everywhere:
        return None
    return PrivilegedRunner(subject, tuple(where), bool(everywhere), tuple(dict.fromkeys(used)))


def _runs_privileged_in(ns: str | None, level: Level, runs: Sequence[Grant], relabel: Sequence[Grant]) -> list[Grant]:
    """The grants that let a subject run a privileged pod in ``ns``; empty when none do."""
    here = [g for g in runs if g.applies_in(ns)]
    if not here or level is Level.PRIVILEGED:
        return here
    can_relabel = [g for g in relabel if g.applies_in(ns)]
    return here + can_relabel if can_relabel else []
