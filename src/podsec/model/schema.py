"""The shapes of the pod fields podsec reads, and a validator for raw data.

Kubernetes decodes manifests into typed Go structs; a value of the wrong type
(``runAsUser: "0"``, ``containers: {}``) makes the API server reject the object. We
validate the fields podsec reads against the same types, so that such an object is
reported as an input error instead of being evaluated on a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from podsec.model.paths import Path


class _Str:
    pass


class _Int:
    pass


class _Bool:
    pass


STR, INT, BOOL = _Str(), _Int(), _Bool()


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Any


@dataclass(frozen=True, slots=True)
class MapOf:
    value: Any


Shape = Any  # _Str | _Int | _Bool | ListOf | MapOf | dict[str, Shape] ("object with these fields")


@dataclass(frozen=True, slots=True)
class TypeProblem:
    """A value whose type the API server would reject."""

    path: Path
    message: str


_OPTIONS = {"type": STR, "localhostProfile": STR}
_SE_LINUX = {"user": STR, "role": STR, "type": STR, "level": STR}
_WINDOWS = {
    "hostProcess": BOOL,
    "runAsUserName": STR,
    "gmsaCredentialSpecName": STR,
    "gmsaCredentialSpec": STR,
}
_COMMON_SC = {
    "runAsUser": INT,
    "runAsGroup": INT,
    "runAsNonRoot": BOOL,
    "seccompProfile": _OPTIONS,
    "appArmorProfile": _OPTIONS,
    "seLinuxOptions": _SE_LINUX,
    "windowsOptions": _WINDOWS,
}
CONTAINER_SECURITY_CONTEXT: dict[str, Shape] = {
    **_COMMON_SC,
    "privileged": BOOL,
    "allowPrivilegeEscalation": BOOL,
    "readOnlyRootFilesystem": BOOL,
    "procMount": STR,
    "capabilities": {"add": ListOf(STR), "drop": ListOf(STR)},
}
POD_SECURITY_CONTEXT: dict[str, Shape] = {
    **_COMMON_SC,
    "fsGroup": INT,
    "supplementalGroups": ListOf(INT),
    "fsGroupChangePolicy": STR,
    "supplementalGroupsPolicy": STR,
    "seLinuxChangePolicy": STR,
    "sysctls": ListOf({"name": STR, "value": STR}),
}
_HANDLER = {"httpGet": {"host": STR}, "tcpSocket": {"host": STR}}
CONTAINER: dict[str, Shape] = {
    "name": STR,
    "image": STR,
    "securityContext": CONTAINER_SECURITY_CONTEXT,
    "ports": ListOf({"hostPort": INT, "containerPort": INT}),
    "livenessProbe": _HANDLER,
    "readinessProbe": _HANDLER,
    "startupProbe": _HANDLER,
    "lifecycle": {"postStart": _HANDLER, "preStop": _HANDLER},
}
VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
    "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
    "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
    "storageos", "csi", "ephemeral", "image",
)  # fmt: skip
VOLUME: dict[str, Shape] = {"name": STR, **{source: {} for source in VOLUME_SOURCES}}
POD_SPEC: dict[str, Shape] = {
    "hostNetwork": BOOL,
    "hostPID": BOOL,
    "hostIPC": BOOL,
    "hostUsers": BOOL,
    "os": {"name": STR},
    "securityContext": POD_SECURITY_CONTEXT,
    "volumes": ListOf(VOLUME),
    "initContainers": ListOf(CONTAINER),
    "containers": ListOf(CONTAINER),
    "ephemeralContainers": ListOf(CONTAINER),
    "runtimeClassName": STR,
    "automountServiceAccountToken": BOOL,
    "shareProcessNamespace": BOOL,
    "serviceAccountName": STR,
}
METADATA: dict[str, Shape] = {
    "name": STR,
    "namespace": STR,
    "generateName": STR,
    "labels": MapOf(STR),
    "annotations": MapOf(STR),
}


def describe(value: object) -> str:
    """How a wrong value is shown in a message: its YAML type and a short rendering."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'string "{shown}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _expected(shape: Shape) -> str:
    if shape is STR:
        return "a string"
    if shape is INT:
        return "an integer"
    if shape is BOOL:
        return "a boolean (true or false)"
    if isinstance(shape, ListOf):
        return "a list"
    return "a mapping"


def _hint(shape: Shape, value: object) -> str:
    if isinstance(value, str) and shape is INT and value.strip().lstrip("-").isdigit():
        return " (remove the quotes)"
    if isinstance(value, str) and shape is BOOL and value in ("true", "false"):
        return " (remove the quotes)"
    if isinstance(value, str) and isinstance(shape, ListOf):
        return f' (write it as a list: ["{value}"])'
    return ""


def conforms(value: object, shape: Shape) -> bool:
    """Whether ``value`` fits ``shape`` (what `validate` checks, without building paths: the common case)."""
    if value is None:
        return True
    if shape is STR:
        return isinstance(value, str)
    if shape is BOOL:
        return isinstance(value, bool)
    if not isinstance(shape, dict):
        return _conforms_other(value, shape)
    if not isinstance(value, dict):  # an object with these fields: the most common shape, checked here
        return False
    if len(value) < len(shape):  # walk the fewer keys: the object's or the shape's
        for key, v in value.items():
            sub = shape.get(key)
            if sub is not None and v is not None and not conforms(v, sub):
                return False
    else:
        for key, sub in shape.items():
            v = value.get(key)
            if v is not None and not conforms(v, sub):
                return False
    return True


def _conforms_other(value: object, shape: Shape) -> bool:
    """`conforms` for a value that is not None and an INT, ListOf or MapOf shape."""
    if shape is INT:
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    items: Iterable[object]
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            return False
        items, item = value, shape.item
    else:  # MapOf
        if not isinstance(value, dict):
            return False
        items, item = value.values(), shape.value
    for v in items:  # noqa: SIM110 (a loop: faster than all() over a generator, and this is hot)
        if not conforms(v, item):
            return False
    return True


def validate(value: object, shape: Shape, path: Path, problems: list[TypeProblem]) -> None:
    """Append a `TypeProblem` for every value under ``value`` that does not fit ``shape``.

    ``None`` (YAML null) is accepted everywhere: Kubernetes treats it as unset.
    Only the fields named in the shape are looked at; others are ignored.
    """
    if value is None or conforms(value, shape):
        return
    _collect(value, shape, path, problems)


def _collect(value: object, shape: Shape, path: Path, problems: list[TypeProblem]) -> None:
    if value is None:
        return
    children = _children(value, shape)
    if children is None:
        if not conforms(value, shape):
            problems.append(
                TypeProblem(path, f"expected {_expected(shape)}, got {describe(value)}{_hint(shape, value)}")
            )
        return
    for key, item, sub in children:
        _collect(item, sub, (*path, key), problems)


def _children(value: object, shape: Shape) -> Iterator[tuple[str | int, object, Shape]] | None:
    """The values under ``value`` with their keys and shapes; None when ``shape`` is a scalar's or
    ``value`` is not the list or mapping it asks for (`conforms` then tells which)."""
    if isinstance(shape, ListOf):
        return ((i, item, shape.item) for i, item in enumerate(value)) if isinstance(value, list) else None
    if isinstance(shape, MapOf):
        return ((key, item, shape.value) for key, item in value.items()) if isinstance(value, dict) else None
    if isinstance(shape, dict) and isinstance(value, dict):
        return ((key, value[key], sub) for key, sub in shape.items() if key in value)
    return None
