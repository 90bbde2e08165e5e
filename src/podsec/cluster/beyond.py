"""The analyses beyond the pod on a live cluster: namespace isolation, NetworkPolicy rules that allow
everything, PodSecurityPolicies and who can run privileged pods (RBAC).

Run by the audit when the run's profile has any of those checks (``--profile hardened``, as for
``podsec scan``). The kinds are found by discovery and listed like the pod-bearing kinds (a kind
the credentials may not list is a problem of the audit, which is then partial); the objects go to
the same code `podsec scan` and `podsec rbac` use (`podsec.beyond`, `podsec.inventory`,
`podsec.rbac_report`), each object's findings located by its ``k8s://`` URI. Each namespace's
enforce label is the live Namespace's. With ``-n`` only the namespaced kinds of those namespaces are
read (cluster-scoped ones need ``-A``, as for pods); Kubernetes' default ClusterRoles stand in for
the ClusterRoles not read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from podsec import beyond, inventory, rbac_report
from podsec.analysis import rbac
from podsec.analysis.rules import access, legacy, network
from podsec.cluster import discovery
from podsec.cluster.api import Api, ClusterError
from podsec.evaluate import Context
from podsec.findings import FileResult, InputError, ObjectResult
from podsec.model.standards import Profile, Version

NETWORK_GROUPS = {
    "NetworkPolicy": "networking.k8s.io",
    "CiliumNetworkPolicy": "cilium.io",
    "CiliumClusterwideNetworkPolicy": "cilium.io",
    "AdminNetworkPolicy": "policy.networking.k8s.io",
    "BaselineAdminNetworkPolicy": "policy.networking.k8s.io",
}
KINDS: tuple[tuple[str, str], ...] = (
    *((group, kind) for kind, group in NETWORK_GROUPS.items()),
    ("policy", "PodSecurityPolicy"),
    *((rbac.GROUP, kind) for kind in ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")),
)
RBAC_CHECKS = (access.PRIVILEGED_PODS, access.EXEC, access.ESCALATE, access.IMPERSONATE)

Problem = Callable[[str, str, ClusterError], None]  # (uri, text, error): the audit's way to report one


@dataclass(frozen=True, slots=True)
class _Item:
    """An object as `podsec.beyond.record` takes it (a listed object has no line)."""

    obj: Mapping[str, Any]
    line: int | None = None
    line_offset: int = 0
    template: str | None = None


@dataclass(slots=True)
class Found:
    resources: list[discovery.Resource] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)  # by resource name
    results: dict[str | None, list[ObjectResult]] = field(default_factory=dict)  # by namespace (None: cluster)
    errors: list[InputError] = field(default_factory=list)  # objects the API server should have refused

    def add(self, result: ObjectResult) -> None:
        namespace = result.object.name if result.object.kind == "Namespace" else result.object.namespace
        self.results.setdefault(namespace, []).append(result)

    def add_all(self, results: Iterable[FileResult]) -> None:
        for result in results:
            for r in result.objects:
                self.add(r)


def rbac_checks(ctx: Context) -> tuple[str, ...]:
    """The RBAC checks the audit runs: with the hardened profile, as the other checks beyond the pod."""
    if ctx.policy.profile is not Profile.HARDENED:
        return ()
    return tuple(c.id for c in RBAC_CHECKS if c.id not in ctx.ignore)


def kinds(ctx: Context) -> tuple[tuple[str, str], ...]:
    """The (group, kind) pairs the run's checks need: none when they are off (``--ignore`` them and
    credentials that may not list these kinds audit the rest in full)."""
    on = {c.id for c in ctx.policy.beyond}
    network_ids = {c.id for c in (*beyond.NAMESPACE_CHECKS, network.ALLOW_ALL_INGRESS, network.ALLOW_ALL_EGRESS)}
    return tuple(
        (group, kind)
        for group, kind in KINDS
        if (kind in NETWORK_GROUPS and on & network_ids)
        or (kind == "PodSecurityPolicy" and legacy.POD_SECURITY_POLICY.id in on)
        or (group == rbac.GROUP and rbac_checks(ctx))
    )


def analyse(
    api: Api,
    ctx: Context,
    version: Version,
    namespaces: Mapping[str, Mapping[str, str]],
    scopes: list[str | None],
    uri: Callable[[str, str | None, str | None], str],
    problem: Problem,
    page_size: int = 500,
) -> Found:
    """Read what the analyses need and return their findings by namespace."""
    out = Found(discovery.served(api, kinds(ctx)))
    facts = beyond.Facts()
    inv = inventory.Inventory()
    for name in sorted(namespaces):
        live: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": dict(namespaces[name])},
        }
        inv.add(inventory.Placed(live, uri("namespaces", None, name)))
        beyond.record(_Item(live), uri("namespaces", None, name), ctx, facts, None, None)
    seen: set[str] = set()
    for resource in out.resources:
        if not resource.namespaced and None not in scopes:
            continue  # cluster-scoped kinds are read with -A only
        out.read.setdefault(resource.name, 0)
        for obj, where in _listed(api, resource, scopes, uri, problem, page_size):
            uid = str((obj.get("metadata") or {}).get("uid") or where)
            if uid in seen:
                continue  # read again after a list restarted
            seen.add(uid)
            out.read[resource.name] += 1
            _record(out, beyond.record(_Item(obj), where, ctx, facts, None, None))
            inv.add(inventory.Placed(obj, where))
    out.errors += inv.errors
    out.add_all(beyond.namespace_results(facts, ctx))
    out.add_all(_rbac_results(inv, ctx, version))
    return out


def _record(out: Found, outcome: ObjectResult | list[InputError] | None) -> None:
    """An object's own findings (as `podsec.beyond.record` returns them), or its input errors."""
    if isinstance(outcome, ObjectResult):
        out.add(outcome)
    elif isinstance(outcome, list):
        out.errors += outcome


def _rbac_results(inv: inventory.Inventory, ctx: Context, version: Version) -> list[FileResult]:
    """The RBAC findings, when the audit runs any of its checks (with the default ClusterRoles added)."""
    running = rbac_checks(ctx)
    if not running:
        return []
    inv.add_defaults()
    analysis = rbac.analyze(
        inv.authorizer(), inv.enforce_levels(), version=version, controllers=inv.controllers(ctx.kinds)
    )
    ignore = ctx.ignore | {c.id for c in RBAC_CHECKS if c.id not in running}
    return rbac_report.findings(inv, analysis, replace(ctx, ignore=frozenset(ignore)))


def _listed(
    api: Api,
    resource: discovery.Resource,
    scopes: list[str | None],
    uri: Callable[[str, str | None, str | None], str],
    problem: Problem,
    page_size: int,
) -> Iterator[tuple[dict[str, Any], str]]:
    for namespace in scopes if resource.namespaced else [None]:
        try:
            for page in api.pages(resource.path(namespace), limit=page_size):
                for obj in page.items:
                    obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind  # list items carry neither
                    meta: Mapping[str, Any] = obj.get("metadata") or {}
                    yield obj, uri(resource.name, meta.get("namespace"), str(meta.get("name") or ""))
        except ClusterError as exc:
            where = f"in namespace {namespace}" if namespace else "in any namespace"
            problem(uri(resource.name, namespace, None), f"cannot list {resource.name} {where}", exc)


__all__ = ["KINDS", "Found", "analyse", "kinds"]
