"""What an API server of a given version serves, and which of it is equivalent (``matchPolicy: Equivalent``).

The API server calls two resources equivalent when they share storage (the same objects
served through several groups or versions: ``EquivalentResourceRegistry``). A rule for
``apps/v1 deployments`` then also matches a request through another served group/version
of deployments, and the policy sees the object converted to the version its rule names.

podsec knows this for the built-in kinds in `BUILTIN` (each workload kind through all its
history, and the other kinds Kubernetes still serves in several versions), and for the
CustomResourceDefinitions given in the input (every served version of a CRD is one
resource). Between two versions of a CRD with ``conversion.strategy: None`` the object
only changes its ``apiVersion``, which podsec does; any other conversion (a CRD's
conversion webhook, the built-in structural ones such as autoscaling/v1 to v2) cannot be
done offline and is reported as such.

For the versions podsec emulates (1.28 and later) no workload kind is served in two
versions any more: extensions/v1beta1, apps/v1beta1 and apps/v1beta2 workloads went in
1.16, batch/v1beta1 CronJobs in 1.25. A manifest that uses them names a resource the API
server does not serve, which is an input error naming the served apiVersion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Version = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Served:
    """One group/version/resource of a kind, and the releases that serve it by default."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool
    since: Version = (1, 0)
    until: Version | None = None  # first release that no longer serves it
    storage: str = ""  # what equivalent resources share; "" = the resource itself
    same_shape: bool = False  # converting to another version only changes apiVersion

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def serves(self, at: Version) -> bool:
        return self.since <= at and (self.until is None or at < self.until)


def _history(kind: str, resource: str, versions: Iterable[tuple[str, str, Version, Version | None]]) -> list[Served]:
    return [Served(g, v, resource, kind, True, since, until, resource) for g, v, since, until in versions]


_CLUSTER_KINDS = {
    "Namespace": "namespaces",
    "Node": "nodes",
    "PersistentVolume": "persistentvolumes",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "CustomResourceDefinition": "customresourcedefinitions",
    "StorageClass": "storageclasses",
    "PriorityClass": "priorityclasses",
    "RuntimeClass": "runtimeclasses",
    "IngressClass": "ingressclasses",
    "CSIDriver": "csidrivers",
    "CSINode": "csinodes",
    "VolumeAttachment": "volumeattachments",
    "APIService": "apiservices",
    "CertificateSigningRequest": "certificatesigningrequests",
    "MutatingWebhookConfiguration": "mutatingwebhookconfigurations",
    "ValidatingWebhookConfiguration": "validatingwebhookconfigurations",
    "ValidatingAdmissionPolicy": "validatingadmissionpolicies",
    "ValidatingAdmissionPolicyBinding": "validatingadmissionpolicybindings",
    "MutatingAdmissionPolicy": "mutatingadmissionpolicies",
    "MutatingAdmissionPolicyBinding": "mutatingadmissionpolicybindings",
    "PodSecurityPolicy": "podsecuritypolicies",
}
"""Cluster-scoped kinds (and kinds whose plural is not kind + "s"), by kind only."""
_IRREGULAR = {"NetworkPolicy": "networkpolicies", "Endpoints": "endpoints", "Ingress": "ingresses"}
_IRREGULAR |= {"PodDisruptionBudget": "poddisruptionbudgets", "ResourceQuota": "resourcequotas"}

_APPS = (("apps", "v1", (1, 9), None), ("apps", "v1beta2", (1, 8), (1, 16)))
BUILTIN: tuple[Served, ...] = (
    Served("", "v1", "pods", "Pod", True),
    Served("", "v1", "podtemplates", "PodTemplate", True),
    Served("", "v1", "replicationcontrollers", "ReplicationController", True),
    *_history(
        "Deployment",
        "deployments",
        (*_APPS, ("apps", "v1beta1", (1, 6), (1, 16)), ("extensions", "v1beta1", (1, 2), (1, 16))),
    ),
    *_history("ReplicaSet", "replicasets", (*_APPS, ("extensions", "v1beta1", (1, 2), (1, 16)))),
    *_history("DaemonSet", "daemonsets", (*_APPS, ("extensions", "v1beta1", (1, 2), (1, 16)))),
    *_history("StatefulSet", "statefulsets", (*_APPS, ("apps", "v1beta1", (1, 5), (1, 16)))),
    Served("batch", "v1", "jobs", "Job", True),
    *_history("CronJob", "cronjobs", (("batch", "v1", (1, 21), None), ("batch", "v1beta1", (1, 8), (1, 25)))),
    # kinds still served in several versions (their versions differ in shape: no offline conversion)
    Served("", "v1", "events", "Event", True, storage="events"),
    Served("events.k8s.io", "v1", "events", "Event", True, (1, 19), storage="events"),
    Served("events.k8s.io", "v1beta1", "events", "Event", True, (1, 8), (1, 25), "events"),
    *_history(
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        (
            ("autoscaling", "v1", (1, 2), None),
            ("autoscaling", "v2", (1, 23), None),
            ("autoscaling", "v2beta2", (1, 12), (1, 26)),
            ("autoscaling", "v2beta1", (1, 8), (1, 25)),
        ),
    ),
    *_history(
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        (("policy", "v1", (1, 21), None), ("policy", "v1beta1", (1, 5), (1, 25))),
    ),
    *_history(
        "Ingress",
        "ingresses",
        (
            ("networking.k8s.io", "v1", (1, 19), None),
            ("networking.k8s.io", "v1beta1", (1, 14), (1, 22)),
            ("extensions", "v1beta1", (1, 2), (1, 22)),
        ),
    ),
    *_history(
        "NetworkPolicy",
        "networkpolicies",
        (("networking.k8s.io", "v1", (1, 7), None), ("extensions", "v1beta1", (1, 3), (1, 16))),
    ),
    *(
        Served("flowcontrol.apiserver.k8s.io", v, r, k, False, since, until, r)
        for k, r in (("FlowSchema", "flowschemas"), ("PriorityLevelConfiguration", "prioritylevelconfigurations"))
        for v, since, until in (("v1", (1, 29), None), ("v1beta3", (1, 26), (1, 32)), ("v1beta2", (1, 23), (1, 29)))
    ),
)
"""The built-in kinds podsec knows in more than one group/version, with the releases serving each."""
_BUILTIN_KINDS = frozenset(s.kind for s in BUILTIN)


def _plural(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith("y") and not lower.endswith(("ay", "ey", "oy", "uy")):
        return lower[:-1] + "ies"
    if lower.endswith(("s", "x", "ch", "sh")):
        return lower + "es"
    return lower + "s"


@dataclass(frozen=True, slots=True)
class Resolved:
    """A kind's resource as the request names it."""

    resource: str
    namespaced: bool
    served: Served | None  # None: a kind podsec knows only by name (its plural guessed)


class NotServed(ValueError):
    """A built-in kind (or a CRD's kind) under a group/version the API server does not serve."""


class Catalog:
    """The resources an API server of ``version`` serves, for the kinds podsec knows."""

    def __init__(self, version: Version, crds: Iterable[Mapping[str, object]] = ()) -> None:
        self.version = version
        self._all: list[Served] = list(BUILTIN)
        for crd in crds:
            self._all += _crd(crd)
        self._known = {(s.group, s.kind) for s in self._all}

    def resolve(self, group: str, version: str, kind: str) -> Resolved:
        """The resource of ``group/version kind``; `NotServed` for a known kind under an unserved version
        (a built-in kind in a built-in group, or a CRD's kind in its group)."""
        exact = next((s for s in self._all if (s.group, s.version, s.kind) == (group, version, kind)), None)
        if exact is not None and exact.serves(self.version):
            return Resolved(exact.resource, exact.namespaced, exact)
        builtin_group = "." not in group or group.endswith(".k8s.io")
        if exact is not None or (group, kind) in self._known or (builtin_group and kind in _BUILTIN_KINDS):
            raise NotServed(self._not_served(group, version, kind, exact))
        if kind in _CLUSTER_KINDS:
            return Resolved(_CLUSTER_KINDS[kind], False, None)
        return Resolved(_IRREGULAR.get(kind) or _plural(kind), True, None)

    def _not_served(self, group: str, version: str, kind: str, exact: Served | None) -> str:
        api = f"{group}/{version}" if group else version
        when = f" (removed in 1.{exact.until[1]})" if exact is not None and exact.until is not None else ""
        served = [s for s in self._all if s.kind == kind and s.serves(self.version)]
        use = " or ".join(dict.fromkeys(s.api_version for s in served))
        hint = f": use {use}" if use else ""
        return f"Kubernetes 1.{self.version[1]} does not serve {kind} in {api}{when}{hint}"

    def equivalents(self, group: str, version: str, resource: str) -> list[Served]:
        """The other served group/versions of the same objects (EquivalentResourcesFor)."""
        this = next((s for s in self._all if (s.group, s.version, s.resource) == (group, version, resource)), None)
        if this is None or not this.storage:
            return []
        return [
            s
            for s in self._all
            if s.storage == this.storage and s is not this and s.serves(self.version) and s.kind == this.kind
        ]

    def served(self, group: str, version: str, resource: str) -> Served | None:
        return next((s for s in self._all if (s.group, s.version, s.resource) == (group, version, resource)), None)


def _object_field(spec: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = spec.get(key)
    return value if isinstance(value, dict) else {}


def _served_versions(spec: Mapping[str, object]) -> list[str]:
    """The names of a CRD's served versions (apiextensions.k8s.io/v1beta1's single ``version`` too)."""
    versions = spec.get("versions")
    if not isinstance(versions, list):
        versions = []
    names = [v.get("name") for v in versions if isinstance(v, dict) and v.get("served", True) is not False]
    if not versions and isinstance(spec.get("version"), str):  # apiextensions.k8s.io/v1beta1
        names = [spec["version"]]
    return [name for name in names if isinstance(name, str)]


def _crd(crd: Mapping[str, object]) -> list[Served]:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return []
    names = _object_field(spec, "names")
    group, kind, plural = spec.get("group"), names.get("kind"), names.get("plural")
    if not (isinstance(group, str) and isinstance(kind, str) and isinstance(plural, str)):
        return []
    same_shape = _object_field(spec, "conversion").get("strategy", "None") == "None"
    namespaced = spec.get("scope") != "Cluster"
    storage = f"{plural}.{group}"
    return [
        Served(group, version, plural, kind, namespaced, storage=storage, same_shape=same_shape)
        for version in _served_versions(spec)
    ]
