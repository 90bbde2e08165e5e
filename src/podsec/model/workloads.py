"""Which objects carry pods, and where (PSA's pod-spec extractor, plus common CRDs).

`pod_sources(obj)` is the single place that knows about kinds. Everything after it
works on `PodSource`/`PodView` values and never branches on kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from podsec.model.paths import Path
from podsec.model.pod import ContainerSource, PodSource, get_path


def _standard(spec: Path, metadata: Path, label: str | None = None, *, bare_pod: bool = False) -> PodSource:
    return PodSource(
        label=label,
        metadata=(metadata,),
        layers=(spec,),
        containers=tuple(
            ContainerSource(k, (*spec, k)) for k in ("initContainers", "containers", "ephemeralContainers")
        ),
        bare_pod=bare_pod,
    )


# The sources of the places kinds keep their pods in, made once each (a source computes its
# paths when it is made): few places, from the kind rules and `SHAPES`; bounded all the same.
_TEMPLATES: dict[Path, PodSource] = {}
_SPECS: dict[Path, PodSource] = {}


def template_at(path: Path) -> PodSource:
    """A pod template (``metadata`` + ``spec``) at ``path``, such as ``spec.template``."""
    found = _TEMPLATES.get(path)
    if found is None:
        if len(_TEMPLATES) > 256:
            _TEMPLATES.clear()
        found = _TEMPLATES[path] = _standard((*path, "spec"), (*path, "metadata"))
    return found


def spec_at(path: Path) -> PodSource:
    """A bare pod spec at ``path`` (with no pod metadata of its own)."""
    found = _SPECS.get(path)
    if found is None:
        if len(_SPECS) > 256:
            _SPECS.clear()
        found = _SPECS[path] = _standard(path, ("metadata",))
    return found


POD = _standard(("spec",), ("metadata",), bare_pod=True)


@dataclass(frozen=True, slots=True)
class KindRule:
    """Where the pod of one kind lives. ``groups`` are API groups ("" is core)."""

    kind: str
    groups: frozenset[str]
    template: Path | None = None  # a PodTemplateSpec (metadata + spec)
    spec: Path | None = None  # a bare PodSpec
    argo: bool = False  # Argo Workflows: one pod per entry of spec.templates
    legacy: frozenset[str] = frozenset()  # of ``groups``, those no API server serves any more (manifests only)

    @property
    def resource(self) -> str:
        """The kind's resource name, as the API server derives it (lower case, plural)."""
        name = self.kind.lower()
        if name.endswith(("s", "x", "ch", "sh")):
            return f"{name}es"
        return f"{name[:-1]}ies" if name.endswith("y") and name[-2:-1] not in "aeiou" else f"{name}s"


def _rule(
    kind: str, groups: Iterable[str], template: Path | None = None, *, legacy: Iterable[str] = (), **kw: Any
) -> KindRule:
    return KindRule(kind, frozenset((*groups, *legacy)), template, legacy=frozenset(legacy), **kw)


_T = ("spec", "template")
BUILTIN_RULES: tuple[KindRule, ...] = (
    _rule("Pod", [""]),
    _rule("PodTemplate", [""], ("template",)),
    _rule("ReplicationController", [""], _T),
    _rule("ReplicaSet", ["apps"], _T, legacy=["extensions"]),
    _rule("Deployment", ["apps"], _T, legacy=["extensions"]),
    _rule("StatefulSet", ["apps"], _T),
    _rule("DaemonSet", ["apps"], _T, legacy=["extensions"]),
    _rule("Job", ["batch"], _T),
    _rule("CronJob", ["batch"], ("spec", "jobTemplate", "spec", "template")),
    _rule("Rollout", ["argoproj.io"], _T),
    _rule("DeploymentConfig", ["apps.openshift.io"], _T, legacy=[""]),  # OpenShift 3's core group
    _rule("Service", ["serving.knative.dev"], _T),
    _rule("Configuration", ["serving.knative.dev"], _T),
    _rule("Revision", ["serving.knative.dev"], spec=("spec",)),
    _rule("Workflow", ["argoproj.io"], argo=True),
    _rule("WorkflowTemplate", ["argoproj.io"], argo=True),
    _rule("ClusterWorkflowTemplate", ["argoproj.io"], argo=True),
    _rule("CronWorkflow", ["argoproj.io"], argo=True),
)


def served_resources(rules: Iterable[KindRule] = BUILTIN_RULES) -> list[tuple[str, list[str]]]:
    """(API group, resource names) of every served kind that carries a pod, bare Pods aside, in
    the table's order: what the admission webhook registers for (`podsec.admission.manifests`)."""
    by_group: dict[str, list[str]] = {}
    for rule in rules:
        if rule.kind == "Pod":
            continue
        for group in sorted(rule.groups - rule.legacy):
            by_group.setdefault(group, []).append(rule.resource)
    return list(by_group.items())


def group_of(api_version: object) -> str | None:
    if not isinstance(api_version, str):
        return None
    return api_version.rpartition("/")[0] if "/" in api_version else ""


# The apiVersions Kubernetes has served for its own kinds that carry a pod (current first).
SERVED: dict[str, tuple[str, ...]] = {
    "Pod": ("v1",),
    "PodTemplate": ("v1",),
    "ReplicationController": ("v1",),
    "Deployment": ("apps/v1", "apps/v1beta1", "apps/v1beta2", "extensions/v1beta1"),
    "ReplicaSet": ("apps/v1", "apps/v1beta2", "extensions/v1beta1"),
    "DaemonSet": ("apps/v1", "apps/v1beta2", "extensions/v1beta1"),
    "StatefulSet": ("apps/v1", "apps/v1beta1", "apps/v1beta2"),
    "Job": ("batch/v1",),
    "CronJob": ("batch/v1", "batch/v1beta1", "batch/v2alpha1"),
}


def _kubernetes_group(group: str) -> bool:
    """Groups Kubernetes itself defines (core, apps, batch, *.k8s.io); CRDs use DNS names."""
    return "." not in group or group.endswith(".k8s.io")


# Where kinds podsec does not know usually keep their pod (OpenKruise, KubeVela, ... follow
# the built-ins): a pod spec, a pod template, or a CronJob-like job template.
SHAPES: tuple[tuple[Path, Path], ...] = (
    (("spec", "containers"), ()),
    (("spec", "template", "spec", "containers"), ("spec", "template")),
    (("spec", "jobTemplate", "spec", "template", "spec", "containers"), ("spec", "jobTemplate", "spec", "template")),
)


class KindTable:
    """Kind rules by (group, kind); user rules (from config) are added to the built-ins.

    Objects of other kinds whose spec holds a pod in a standard shape (`SHAPES`) are
    evaluated too, unless ``detect_shapes`` is off.
    """

    def __init__(self, extra: Iterable[KindRule] = (), *, detect_shapes: bool = True) -> None:
        extra = tuple(extra)
        self._rules: dict[tuple[str, str], KindRule] = {}
        self.rules: tuple[KindRule, ...] = (*BUILTIN_RULES, *extra)
        for rule in self.rules:
            for group in rule.groups:
                self._rules[(group, rule.kind)] = rule
        self._user = frozenset((group, rule.kind) for rule in extra for group in rule.groups)
        self.kinds = frozenset(kind for _, kind in self._rules)
        self.kind_names = frozenset(kind.encode() for kind in self.kinds)
        self.detect_shapes = detect_shapes
        # (apiVersion, kind) -> its rule, the rule's pod path and the extraction of a pod there
        # (`extract`: one look-up per object); bounded, as requests name any apiVersion.
        self._places: dict[tuple[str, str], tuple[KindRule | None, Path, Extraction]] = {}

    def pod_kinds(self) -> list[tuple[str, str]]:
        """Every (API group, kind) with a rule: the built-ins in table order, then the user's."""
        return list(self._rules)

    def rule_for(self, obj: Mapping[str, Any]) -> KindRule | None:
        kind, group = obj.get("kind"), group_of(obj.get("apiVersion"))
        if not isinstance(kind, str) or group is None:
            return None
        return self._rules.get((group, kind))

    def served_problem(self, obj: Mapping[str, Any]) -> str | None:
        """Why the API server would refuse a built-in kind under this apiVersion, if it would
        (``apiVersion: v1`` with ``kind: Deployment``); None otherwise."""
        kind, api = obj.get("kind"), obj.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api, str) or kind not in SERVED or api in SERVED[kind]:
            return None
        group = group_of(api)
        if group is None or not _kubernetes_group(group) or (group, kind) in self._user:
            return None  # another API's kind of the same name (apps.kruise.io/v1beta1 StatefulSet)
        return f'Kubernetes does not serve {kind} as "{api}" (the API server would refuse it); use {SERVED[kind][0]}'

    def shape_source(self, obj: Mapping[str, Any]) -> PodSource | None:
        """The pod of an object of a kind without a rule, found by its shape (never for
        Kubernetes' own kinds: their schemas are known)."""
        spec = obj.get("spec")
        group = group_of(obj.get("apiVersion"))
        if not isinstance(spec, dict) or group is None or _kubernetes_group(group):
            return None
        for containers, template in SHAPES:
            if isinstance(get_path(obj, containers), list):
                return template_at(template) if template else POD
        return None

    def extract(self, obj: Mapping[str, Any]) -> Extraction:
        """Where an object's pods are, from one look at its kind (PSA's pod-spec extractor)."""
        rule, path, found = self._place(obj)
        if rule is None:
            if not self.detect_shapes or self.served_problem(obj) is not None:
                return NO_POD
            source = self.shape_source(obj)
            return Extraction((source,)) if source is not None else NO_POD
        if rule.argo:
            return Extraction(tuple(_argo_sources(obj)))
        node: object = obj
        for i, part in enumerate(path):  # each step a mapping (absent: no pod), else a type error
            if not isinstance(node, dict):
                return Extraction((), (path[:i], node))
            node = node.get(part)
            if node is None:
                return NO_POD
        return found if isinstance(node, dict) else Extraction((), (path, node))

    def _place(self, obj: Mapping[str, Any]) -> tuple[KindRule | None, Path, Extraction]:
        """The rule of ``obj``'s kind, its pod path and the extraction of a pod found there."""
        api, kind = obj.get("apiVersion"), obj.get("kind")
        if type(api) is not str or type(kind) is not str:
            return _place_of(self.rule_for(obj))
        found = self._places.get((api, kind))
        if found is None:
            if len(self._places) > 1024:
                self._places.clear()
            found = self._places[(api, kind)] = _place_of(self.rule_for(obj))
        return found

    def pod_sources(self, obj: Mapping[str, Any]) -> tuple[PodSource, ...]:
        """The pods an object carries: none for objects that carry no pod (nor for a kind whose
        pod path holds something else than a mapping: `extract` says what)."""
        rule = self.rule_for(obj)
        if rule is None or rule.argo:
            return self.extract(obj).sources
        if rule.template is not None:
            return (template_at(rule.template),) if isinstance(get_path(obj, rule.template), dict) else ()
        if rule.spec is not None:
            return (spec_at(rule.spec),) if isinstance(get_path(obj, rule.spec), dict) else ()
        return (POD,) if isinstance(obj.get("spec"), dict) else ()


@dataclass(frozen=True, slots=True)
class Extraction:
    """Where an object's pods live (none for an object that carries no pod). ``problem``: the step
    of its kind's pod path that is not a mapping, and its value (a type error; then no pods)."""

    sources: tuple[PodSource, ...]
    problem: tuple[Path, object] | None = None


NO_POD = Extraction(())


def _place_of(rule: KindRule | None) -> tuple[KindRule | None, Path, Extraction]:
    """A rule, the path of its pod and the extraction of a pod found there (`KindTable._place`)."""
    if rule is None or rule.argo:
        return rule, (), NO_POD
    path = rule.template or rule.spec or ("spec",)
    if rule.template is not None:
        return rule, path, Extraction((template_at(rule.template),))
    return rule, path, Extraction((spec_at(rule.spec) if rule.spec is not None else POD,))


def _argo_sources(obj: Mapping[str, Any]) -> list[PodSource]:
    """Argo Workflows: each template that runs containers becomes a pod.

    Pod-level fields come from the template first, then the workflow spec
    (``spec.workflowSpec`` for a CronWorkflow).
    """
    base: Path = ("spec", "workflowSpec") if obj.get("kind") == "CronWorkflow" else ("spec",)
    templates = get_path(obj, (*base, "templates"))
    if not isinstance(templates, list):
        return []
    sources = []
    for i, tpl in enumerate(templates):
        if not isinstance(tpl, dict):
            continue
        t: Path = (*base, "templates", i)
        conts = (
            ContainerSource("initContainers", (*t, "initContainers")),
            ContainerSource("containers", (*t, "container"), many=False),
            ContainerSource("containers", (*t, "script"), many=False),
            ContainerSource("containers", (*t, "containerSet", "containers")),
            ContainerSource("containers", (*t, "sidecars")),
        )
        if not any(get_path(obj, c.path) is not None for c in conts):
            continue  # steps/dag/resource/suspend templates run no container of their own
        name = tpl.get("name")
        sources.append(
            PodSource(
                label=f'template "{name}"' if isinstance(name, str) else f"template [{i}]",
                metadata=((*t, "metadata"), (*base, "podMetadata")),
                layers=(t, base),
                containers=conts,
            )
        )
    return sources
