"""`read_pod`'s one-pass path for pods in the standard place against the general path
(validate every field, then build): the same view, value for value and path for path, or the
same type problems, whatever the input (hypothesis, over well and badly typed pods)."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from podsec.model import pod as podmodel
from podsec.model import schema, security
from podsec.model.pod import PodSource
from podsec.model.prepare import APPARMOR_PREFIX
from podsec.model.security import Resolved
from podsec.model.workloads import POD, spec_at, template_at
from tests.admission.payloads import pod as payload_pod
from tests.kube import strategies as kube_strategies

EXAMPLES = int(os.environ.get("PODSEC_FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("PODSEC_FUZZ_RANDOM") is None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Values of every type, including the near misses the API server refuses or converts.
odd = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 70000),
    st.sampled_from([0.0, 1.0, 80.0, 1.5, -1.0]),
    st.sampled_from(["", "0", "80", "true", "false", "x", "windows", "ALL"]),
    st.just({}),
    st.just([]),
    st.just([None]),
    st.just({"a": 1}),
    st.just(["a"]),
)
names = st.sampled_from(["web", "side", "", "init"])
texts = st.one_of(names, st.text(max_size=4))


def maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``good``, sometimes any value at all (rarely enough that about half the pods are
    well typed: the one pass reads those, the general path the rest)."""
    return st.integers(0, 39).flatmap(lambda n: odd if n == 0 else good)


def objects(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    return maybe(st.fixed_dictionaries({}, optional=fields))


ints = st.one_of(st.integers(-1, 70000), st.sampled_from([0, 1000, 8080.0]))
bools = st.booleans()
profile = objects(
    {
        "type": maybe(st.sampled_from(["RuntimeDefault", "Unconfined", "Localhost", ""])),
        "localhostProfile": maybe(texts),
    }
)
common_sc = {
    "runAsUser": maybe(ints),
    "runAsGroup": maybe(ints),
    "runAsNonRoot": maybe(bools),
    "seccompProfile": profile,
    "appArmorProfile": profile,
    "seLinuxOptions": objects({k: maybe(texts) for k in ("user", "role", "type", "level")}),
    "windowsOptions": objects({"hostProcess": maybe(bools), "runAsUserName": maybe(texts)}),
}
container_sc = objects(
    {
        **common_sc,
        "privileged": maybe(bools),
        "allowPrivilegeEscalation": maybe(bools),
        "readOnlyRootFilesystem": maybe(bools),
        "procMount": maybe(st.sampled_from(["Default", "Unmasked"])),
        "capabilities": objects(
            {k: maybe(st.lists(maybe(st.sampled_from(["ALL", "NET_ADMIN", ""])), max_size=2)) for k in ("add", "drop")}
        ),
        "fsGroup": maybe(ints),  # pod-only: misplaced here
    }
)
pod_sc = objects(
    {
        **common_sc,
        "fsGroup": maybe(ints),
        "supplementalGroups": maybe(st.lists(maybe(ints), max_size=2)),
        "fsGroupChangePolicy": maybe(texts),
        "supplementalGroupsPolicy": maybe(texts),
        "seLinuxChangePolicy": maybe(texts),
        "sysctls": maybe(st.lists(objects({"name": maybe(texts), "value": maybe(texts)}), max_size=2)),
        "privileged": maybe(bools),  # container-only: misplaced here
    }
)
handler = objects({action: objects({"host": maybe(texts), "port": ints}) for action in ("httpGet", "tcpSocket")})
container = objects(
    {
        "name": maybe(names),
        "image": maybe(texts),
        "securityContext": container_sc,
        "ports": maybe(st.lists(objects({"containerPort": maybe(ints), "hostPort": maybe(ints)}), max_size=3)),
        "livenessProbe": handler,
        "readinessProbe": handler,
        "startupProbe": handler,
        "lifecycle": objects({"postStart": handler, "preStop": handler}),
        "resources": odd,
    }
)
source = st.one_of(st.just({}), st.just({"path": "/"}), odd)
volume = objects(
    {
        "name": maybe(names),
        "hostPath": source,
        "emptyDir": source,
        "projected": source,
        "configMap": source,
        "unknownSource": odd,
    }
)
spec = objects(
    {
        **{f: maybe(bools) for f in podmodel._BOOLEANS},
        "os": objects({"name": maybe(st.sampled_from(["linux", "windows", ""]))}),
        "securityContext": pod_sc,
        "volumes": maybe(st.lists(volume, max_size=3)),
        "initContainers": maybe(st.lists(container, max_size=2)),
        "containers": maybe(st.lists(container, max_size=3)),
        "ephemeralContainers": maybe(st.lists(container, max_size=1)),
        "runtimeClassName": maybe(texts),
        "serviceAccountName": maybe(texts),
        "nodeSelector": maybe(
            st.dictionaries(st.sampled_from(["kubernetes.io/os", "beta.kubernetes.io/os", "zone"]), maybe(texts))
        ),
        "dnsPolicy": odd,
    }
)
annotation_keys = st.sampled_from(
    ["a", "seccomp.security.alpha.kubernetes.io/pod", *(APPARMOR_PREFIX + n for n in ("web", "side", ""))]
)
metadata = objects(
    {
        "name": maybe(texts),
        "namespace": maybe(texts),
        "generateName": maybe(texts),
        "labels": maybe(st.dictionaries(texts, maybe(texts), max_size=2)),
        "annotations": maybe(
            st.dictionaries(
                annotation_keys, maybe(st.sampled_from(["runtime/default", "unconfined", "localhost/p", "x"]))
            )
        ),
    }
)
# (source, how the object holds the pod's metadata and spec)
PLACES: list[tuple[PodSource, Any]] = [
    (POD, lambda meta, spec: {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}),
    (template_at(("spec", "template")), lambda meta, spec: {"spec": {"template": {"metadata": meta, "spec": spec}}}),
    (spec_at(("spec",)), lambda meta, spec: {"metadata": meta, "spec": spec}),
]


def same(root: Any, src: PodSource, *, count: bool = False) -> None:
    fast = podmodel.read_pod(root, src)
    general = podmodel.read_pod_generally(root, src)
    assert src.layout is not None
    if count:
        event("one pass" if podmodel._read_standard(root, src, src.layout) is not None else "general")
    assert repr(fast) == repr(general)  # the types of values too (1 and 1.0 and True are equal)
    assert fast == general


@FUZZ
@given(st.sampled_from(range(len(PLACES))), metadata, spec)
def test_one_pass_reads_every_pod_as_the_general_path_does(place: int, meta: Any, raw: Any) -> None:
    src, wrap = PLACES[place]
    same(wrap(meta, raw), src, count=True)


def test_the_common_pods_take_the_one_pass() -> None:
    restricted, privileged = payload_pod(restricted=True), payload_pod(privileged=True)
    probes = payload_pod()
    probes["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"host": "example.com", "port": 80}}
    probes["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]
    probes["spec"]["volumes"].append({"name": "two", "secret": {}, "hostPath": {"path": "/"}})
    probes["spec"]["nodeSelector"] = {"kubernetes.io/os": "linux"}
    for obj in (payload_pod(), restricted, privileged, probes):
        assert POD.layout is not None
        assert podmodel._read_standard(obj, POD, POD.layout) is not None
        same(obj, POD)
        template = template_at(("spec", "template"))
        deployment = {"spec": {"template": {"metadata": obj["metadata"], "spec": obj["spec"]}}}
        same(deployment, template)


def test_what_the_api_server_prepares_takes_the_general_path() -> None:
    host_network = payload_pod()
    host_network["spec"]["hostNetwork"] = True
    host_network["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    apparmor = payload_pod()
    apparmor["metadata"]["annotations"] = {APPARMOR_PREFIX + "web": "runtime/default"}
    for obj in (host_network, apparmor):
        assert POD.layout is not None
        assert podmodel._read_standard(obj, POD, POD.layout) is None
        view = podmodel.read_pod(obj, POD)
        assert not isinstance(view, list)
        assert view.containers[0].host_ports or view.containers[0].effective.app_armor_profile.is_set


ODD_VALUES: list[Any] = [None, True, False, 0, 1, 8080.0, 1.5, "", "80", "true", "x", {}, [], [None], {"a": 1}, ["a"]]


def _rich() -> dict[str, Any]:
    """A well-typed pod that writes every field the schema types (and some it does not)."""
    sc = {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": True, "seccompProfile": {"type": "Localhost", "localhostProfile": "p"},
          "appArmorProfile": {"type": "RuntimeDefault"}, "seLinuxOptions": {"user": "u", "role": "r", "type": "t", "level": "l"},
          "windowsOptions": {"hostProcess": False, "runAsUserName": "n"}}  # fmt: skip
    handler = {"httpGet": {"host": "h", "port": 80}, "tcpSocket": {"host": "t"}}
    container = {
        "name": "web",
        "image": "img",
        "securityContext": {
            **sc,
            "privileged": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "procMount": "Default",
            "capabilities": {"add": ["CHOWN"], "drop": ["ALL"]},
        },
        "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}],
        "livenessProbe": handler,
        "readinessProbe": handler,
        "startupProbe": handler,
        "lifecycle": {"postStart": handler, "preStop": handler},
    }
    spec = {
        **{f: False for f in podmodel._BOOLEANS},
        "os": {"name": "linux"},
        "securityContext": {
            **sc,
            "fsGroup": 1,
            "supplementalGroups": [1, 2],
            "fsGroupChangePolicy": "Always",
            "supplementalGroupsPolicy": "Merge",
            "seLinuxChangePolicy": "Recursive",
            "sysctls": [{"name": "a", "value": "b"}],
        },
        "volumes": [{"name": "v", "hostPath": {"path": "/"}}, {"name": "w", "secret": {}, "emptyDir": {}}],
        "initContainers": [{**container, "name": "init"}],
        "containers": [container, {"name": "side"}],
        "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
        "runtimeClassName": "rc",
        "serviceAccountName": "sa",
        "nodeSelector": {"kubernetes.io/os": "linux"},
    }
    meta = {"name": "p", "namespace": "n", "generateName": "p-", "labels": {"a": "b"}, "annotations": {"a": "b"}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found += _paths(value, (*path, key))
    return found


def _with(root: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    if not path:
        return value
    copy: Any = dict(root) if isinstance(root, dict) else list(root)
    if delete and len(path) == 1:
        del copy[path[0]]
    else:
        copy[path[0]] = _with(root[path[0]], path[1:], value, delete=delete)
    return copy


def test_every_field_written_wrong_reads_as_the_general_path_reads_it() -> None:
    """Each value of a well-typed pod, in turn, replaced by values of every type, and removed."""
    rich = _rich()
    assert POD.layout is not None and podmodel._read_standard(rich, POD, POD.layout) is not None
    template = template_at(("spec", "template"))
    for path in _paths(rich)[1:]:
        for value in ODD_VALUES:
            obj = _with(rich, path, value)
            same(obj, POD)
            same({"spec": {"template": {"metadata": obj["metadata"], "spec": obj["spec"]}}}, template)
        if path[0] in ("metadata", "spec"):
            same(_with(rich, path, None, delete=True), POD)


@FUZZ
@given(kube_strategies.pods())
def test_the_pods_of_the_psa_oracle_read_the_same(obj: Any) -> None:
    """The PSA oracle's pods (every field the standards read, well typed), as Pods and as templates."""
    same(obj, POD, count=True)
    same({"spec": {"template": {"metadata": obj["metadata"], "spec": obj["spec"]}}}, template_at(("spec", "template")))


# `security.pod_security_context` and `security.resolve` as they were before they visited only
# the fields a context writes (each field looked up by name, the classes made by keyword).
def _fields_by_name(data: Any, names: Any, path: tuple[Any, ...], source: str) -> dict[str, Any]:
    return {
        attr: Resolved(None, "unset", (*path, name))
        if data.get(name) is None
        else Resolved(security._convert(name, data.get(name)), source, (*path, name))  # type: ignore[arg-type]
        for attr, name in names
    }


def _pod_context_by_name(raw: Any, path: tuple[Any, ...]) -> security.PodSecurityContext:
    data = raw or {}
    misplaced = tuple((*path, n) for n in security._CONTAINER_ONLY_NAMES if n in data) if data else ()
    fields = _fields_by_name(data, security._POD_FIELDS, path, "pod")
    return security.PodSecurityContext(raw is not None, path, **fields, misplaced=misplaced)


def _resolve_by_name(pod: security.PodSecurityContext, raw: Any, path: tuple[Any, ...]) -> Any:
    data = raw or {}
    fields = _fields_by_name(data, security.SHARED_FIELDS, path, "container")
    for attr, own in fields.items():
        if own.source == "unset" and getattr(pod, attr).source != "unset":
            fields[attr] = getattr(pod, attr)
    fields.update(_fields_by_name(data, security.CONTAINER_ONLY_FIELDS, path, "container"))
    misplaced = tuple((*path, n) for n in security._POD_ONLY_NAMES if n in data) if data else ()
    return security.EffectiveSecurityContext(raw is not None, path, **fields, misplaced=misplaced)


def _same_contexts(pod_raw: Any, container_raws: list[Any]) -> None:
    pod_path = ("spec", "securityContext")
    pod_sc = security.pod_security_context(pod_raw, pod_path)
    assert repr(pod_sc) == repr(_pod_context_by_name(pod_raw, pod_path))
    for i, raw in enumerate(container_raws):
        path = ("spec", "containers", i, "securityContext")
        assert repr(security.resolve(pod_sc, raw, path)) == repr(_resolve_by_name(pod_sc, raw, path))


def _typed(shape: Any) -> Any:
    return lambda v: v is None or (isinstance(v, dict) and schema.conforms(v, shape))


@FUZZ
@given(
    pod_sc.filter(_typed(schema.POD_SECURITY_CONTEXT)),
    st.lists(container_sc.filter(_typed(schema.CONTAINER_SECURITY_CONTEXT)), max_size=3),
)
def test_security_contexts_resolve_as_field_by_field(pod_raw: Any, container_raws: list[Any]) -> None:
    _same_contexts(pod_raw, container_raws)


@FUZZ
@given(kube_strategies.pods())
def test_the_psa_oracle_pods_contexts_resolve_as_field_by_field(obj: Any) -> None:
    spec = obj["spec"]
    containers = [c.get("securityContext") for k in podmodel.CONTAINER_KINDS for c in spec.get(k) or ()]
    _same_contexts(spec.get("securityContext"), containers)
