"""A digest of what an evaluation of a pod depends on: to tell, without evaluating it, whether a
running pod (or an owned workload) still matches the template of its owner. Pure.

The projection keeps the fields the pod model reads (`schema.POD_SPEC`, the shapes podsec
validates) and nothing else, so a pod and the template it was made from project alike even
though the API server and its admission plugins add to the pod:

* the pod is projected as Pod Security Admission sees it on creation (`prepare.prepare_pod`:
  host ports defaulted under ``hostNetwork``, AppArmor annotations copied to fields), and so is
  the template, so that defaulting alone never makes a pod differ;
* only the annotations a check reads (seccomp, AppArmor, podsec's exemptions) count — CNI
  plugins annotate every pod with its address;
* the service account token volume the ServiceAccount admission plugin adds
  (``kube-api-access-*``, projected) and ``serviceAccountName`` (which it defaults) are left
  out: no check reads them, and their names are random per pod;
* ``nodeSelector`` counts only for its OS labels (what the model reads).

Equal digests mean equal evaluations. Different digests mean only that the pod must be
evaluated; whether it is *reported* depends on its findings (`violations_key`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from podsec.findings import ObjectResult, stable_field
from podsec.model import schema
from podsec.model.paths import format_path
from podsec.model.pod import NODE_OS_LABELS, PodSource, get_path
from podsec.model.prepare import APPARMOR_PREFIX, prepare_pod

READ_ANNOTATIONS = (
    "seccomp.security.alpha.kubernetes.io/pod",
    "container.seccomp.security.alpha.kubernetes.io/",
    APPARMOR_PREFIX,
    "podsec.io/",
)
TOKEN_VOLUME = "kube-api-access-"
_SPEC = {k: v for k, v in schema.POD_SPEC.items() if not k.endswith("ontainers") and k != "serviceAccountName"}
_CONTAINERS = schema.ListOf(schema.CONTAINER)


Projector = Callable[[Any], Any]
_PROJECTORS: dict[int, Projector] = {}


def _identity(value: Any) -> Any:
    return value


def _projector(shape: Any) -> Projector:
    """A function that keeps of a value only the fields of ``shape`` (made once per shape); a value
    of the wrong type is kept as it is (it is an input error either way, and must not compare equal
    to a valid one)."""
    found = _PROJECTORS.get(id(shape))  # shapes are the schema's constants: a fixed number of them
    if found is not None:
        return found
    made: Projector
    if isinstance(shape, schema.ListOf):
        item = _projector(shape.item)

        def made(value: Any) -> Any:
            return [None if v is None else item(v) for v in value] if isinstance(value, list) else value

    elif isinstance(shape, schema.MapOf):
        entry = _projector(shape.value)

        def made(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            return {k: None if v is None else entry(v) for k, v in value.items()}

    elif isinstance(shape, dict):
        fields = {k: _projector(sub) for k, sub in shape.items()}

        def made(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            return {k: f(v) for k, v in value.items() if v is not None and (f := fields.get(k)) is not None}

    else:
        made = _identity
    _PROJECTORS[id(shape)] = made
    return made


def _project(value: Any, shape: Any) -> Any:
    return None if value is None else _projector(shape)(value)


def _token_volume(volume: Any) -> bool:
    return (
        isinstance(volume, dict)
        and str(volume.get("name", "")).startswith(TOKEN_VOLUME)
        and set(volume) == {"name", "projected"}
    )


def _spec(spec: Any) -> Any:
    projected = _project(spec, _SPEC)
    if isinstance(projected, dict):
        volumes = projected.get("volumes")
        if isinstance(volumes, list):
            projected["volumes"] = [v for v in volumes if not _token_volume(v)]
        selector = spec.get("nodeSelector")
        if isinstance(selector, dict):
            os_labels = {k: selector[k] for k in NODE_OS_LABELS if k in selector}
            if os_labels:
                projected["nodeSelector"] = os_labels
    return projected


def _annotations(metadata: Any) -> dict[str, Any]:
    notes = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(notes, dict):
        return {}
    return {k: v for k, v in notes.items() if isinstance(k, str) and k.startswith(READ_ANNOTATIONS)}


def _as_pod(obj: Mapping[str, Any], src: PodSource) -> Mapping[str, Any] | None:
    """The pod a standard source stands for (a bare pod, or a template as the pod made from it)."""
    if len(src.layers) != 1 or len(src.metadata) != 1:
        return None
    if src.layers[0] == ("spec",) and src.metadata[0] == ("metadata",):
        return obj
    return {"metadata": get_path(obj, src.metadata[0]) or {}, "spec": get_path(obj, src.layers[0])}


def projection(obj: Mapping[str, Any], src: PodSource) -> dict[str, Any]:
    """What the evaluation of the pod ``src`` reads from ``obj``, independent of where it sits."""
    pod = _as_pod(obj, src)
    if pod is not None:
        pod = prepare_pod(pod)
        spec = pod.get("spec")
        return {
            "annotations": _annotations(pod.get("metadata")),
            "spec": _spec(spec),
            "containers": {
                kind: _project(spec.get(kind), _CONTAINERS) if isinstance(spec, dict) else None
                for kind in ("initContainers", "containers", "ephemeralContainers")
            },
        }
    return {  # several layers or metadata places (Argo templates): as they are
        "annotations": [_annotations(get_path(obj, m)) for m in src.metadata],
        "spec": [_spec(get_path(obj, layer)) for layer in src.layers],
        "containers": [
            _project(get_path(obj, c.path), _CONTAINERS if c.many else schema.CONTAINER) for c in src.containers
        ],
    }


def digest(obj: Mapping[str, Any], sources: Iterable[PodSource]) -> tuple[bytes, ...]:
    """One 16-byte digest per pod of ``obj``."""
    return tuple(
        hashlib.blake2b(orjson.dumps(projection(obj, src), option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
        for src in sources
    )


def _relative(field: str, prefixes: Iterable[tuple[str, str]]) -> str:
    for prefix, replacement in prefixes:
        if field == prefix or field.startswith(prefix + ".") or field.startswith(prefix + "["):
            return replacement + field[len(prefix) :]
    return field


def prefixes(sources: Iterable[PodSource]) -> tuple[tuple[str, str], ...]:
    """How a field of each source reads in the pod made from it: ``spec.template.spec`` → ``spec``."""
    out: list[tuple[str, str]] = []
    for src in sources:
        if len(src.layers) == 1 and src.layers[0] != ("spec",):
            out.append((format_path(src.layers[0]), "spec"))
        if len(src.metadata) == 1 and src.metadata[0] != ("metadata",):
            out.append((format_path(src.metadata[0]), "metadata"))
    return tuple(out)


def violations_key(result: ObjectResult, field_prefixes: tuple[tuple[str, str], ...]) -> bytes:
    """A digest of what ``result`` found, exempted or not, with fields as the pod would read them:
    a pod and its owner's template with equal keys need no report of their own."""
    rows = sorted(
        (f.check.id, f.container or "", _relative(stable_field(f), field_prefixes), f.message)
        for f in (*result.findings, *(s.finding for s in result.suppressed))
    )
    return hashlib.blake2b(orjson.dumps(rows), digest_size=16).digest()
