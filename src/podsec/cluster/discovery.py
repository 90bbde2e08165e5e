"""Which of the kinds podsec knows the cluster serves, and where (API discovery).

Aggregated discovery (``apidiscovery.k8s.io/v2``, Kubernetes 1.30+: two requests for the
whole API) is asked first; an older server gets the legacy per-group documents, fetched only
for the groups that hold a kind of the table. A kind served under two groups of one rule
(``extensions`` and ``apps`` in old clusters) is read once, from the current group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from podsec.cluster.api import Api, ApiError, collection_path

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
LEGACY_GROUPS = frozenset({"extensions", ""})  # superseded homes of kinds that moved (apps, apps.openshift.io)


@dataclass(frozen=True, slots=True)
class Resource:
    """A served resource: ``deployments.apps`` at ``apps/v1``."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def name(self) -> str:
        """kubectl's name for it: ``deployments.apps``, ``pods``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None) -> str:
        return collection_path(self.group, self.version, self.plural, namespace if self.namespaced else None)


def _aggregated(api: Api) -> list[Resource] | None:
    """Every served resource from aggregated discovery, or None when the server does not offer it."""
    found: list[Resource] = []
    for root in ("/api", "/apis"):
        doc = api.request("GET", root, accept=AGGREGATED)
        if not isinstance(doc, dict) or doc.get("kind") != "APIGroupDiscoveryList":
            return None
        for group in doc.get("items") or []:
            found += _group_resources(group)
    return found


def _group_resources(group: dict[str, Any]) -> list[Resource]:
    """One APIGroupDiscovery's resources, its versions in order of preference (subresources left out)."""
    name = (group.get("metadata") or {}).get("name") or ""
    return [
        Resource(
            name,
            version.get("version") or "",
            kind,
            r["resource"],
            r.get("scope") == "Namespaced",
            frozenset(r.get("verbs") or ()),
        )
        for version in group.get("versions") or []
        for r in version.get("resources") or []
        if (kind := (r.get("responseKind") or {}).get("kind")) and "/" not in (r.get("resource") or "/")
    ]


def _legacy(api: Api, groups: Iterable[str]) -> list[Resource]:
    found: list[Resource] = []
    for group_name, version in _legacy_versions(api, set(groups)):
        path = f"/api/{version}" if not group_name else f"/apis/{group_name}/{version}"
        try:
            doc = api.get(path)
        except ApiError:
            continue  # a group version that is not served after all (a broken APIService)
        found += [
            Resource(
                group_name, version, r["kind"], r["name"], bool(r.get("namespaced")), frozenset(r.get("verbs") or ())
            )
            for r in doc.get("resources") or []
            if "/" not in r.get("name", "/")
        ]
    return found


def _legacy_versions(api: Api, wanted: set[str]) -> list[tuple[str, str]]:
    """(group, version) to read for the ``wanted`` groups: the core group's first version, and
    each group's versions, its preferred one first."""
    versions: list[tuple[str, str]] = []
    if "" in wanted:
        versions += [("", v) for v in (api.get("/api").get("versions") or [])[:1]]
    for group in api.get("/apis").get("groups") or []:
        if group.get("name") in wanted:
            preferred = (group.get("preferredVersion") or {}).get("version")
            versions += [(group["name"], v["version"]) for v in group.get("versions") or [] if v.get("version")]
            versions.sort(key=lambda gv: gv != (group["name"], preferred))
    return versions


def served(api: Api, kinds: Iterable[tuple[str, str]]) -> list[Resource]:
    """The served resources for these (group, kind) pairs, in their order, at the preferred version."""
    wanted = list(dict.fromkeys(kinds))
    resources = _aggregated(api)
    if resources is None:
        resources = _legacy(api, {g for g, _ in wanted})
    first: dict[tuple[str, str], Resource] = {}
    for r in resources:
        first.setdefault((r.group, r.kind), r)
    chosen = [first[key] for key in wanted if key in first]
    return _without_legacy_homes(chosen)


def _without_legacy_homes(resources: list[Resource]) -> list[Resource]:
    """One resource per kind when a kind is served from a superseded group as well."""
    homes: dict[str, list[Resource]] = {}
    for r in resources:
        homes.setdefault(r.kind, []).append(r)
    keep: list[Resource] = []
    for r in resources:
        others = [o for o in homes[r.kind] if o is not r]
        if r.group in LEGACY_GROUPS and any(o.group not in LEGACY_GROUPS for o in others):
            continue
        keep.append(r)
    return keep


def describe(resources: Iterable[Resource]) -> list[dict[str, Any]]:
    return [{"resource": r.name, "apiVersion": r.api_version, "kind": r.kind} for r in resources]
