"""Volume types: hostPath (baseline) and the restricted allow-list of volume sources."""

from __future__ import annotations

from collections.abc import Sequence

from podsec.checks._base import Check, CheckLevel, Owner, PodView, Severity, Violation
from podsec.checks._fix import Fix, FixOptions, by_owner, manual
from podsec.checks._helpers import owners, plural, qlist, sorted_unique


def _on_volume(vol_path: tuple[str | int, ...], name: str, source: str | None, value: str = "") -> Violation:
    path = (*vol_path, source) if source else vol_path
    return Violation(path, vol_path, name, Owner.VOLUME, None, value)


def _host_path_v1_0(pod: PodView) -> list[Violation]:
    return [_on_volume(v.path, v.name, "hostPath") for v in pod.volumes if "hostPath" in v.sources]


def _describe_host_path(vs: Sequence[Violation]) -> tuple[str, str]:
    names = owners(vs)
    return "hostPath volumes", f"{plural(len(names), 'volume', 'volumes')} {qlist(names)}"


def _fix_host_path(pod: PodView, violations: Sequence[Violation], options: FixOptions) -> list[Fix]:
    why = "the workload reads or writes the node's files there: choose another volume type"
    return [manual(owner, "replace the hostPath volume", why) for owner in by_owner(violations)]


HOST_PATH: Check = Check(
    id="hostPathVolumes",
    level=CheckLevel.BASELINE,
    title="Pod mounts a hostPath volume",
    severity=Severity.HIGH,
    revisions=(((1, 0), _host_path_v1_0),),
    describe=_describe_host_path,
    rationale="A hostPath volume exposes the node's file system to the container; write access "
    "to paths such as /var/run or /etc is a direct route to the node.",
    remediation="Replace the hostPath volume with a persistentVolumeClaim, emptyDir, configMap, secret or CSI volume.",
    fields=("spec.volumes[*].hostPath",),
    fix=_fix_host_path,
)

ALLOWED_SOURCES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "image",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
RESTRICTED_SOURCES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
    "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
    "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
    "scaleIO", "storageos",
)  # fmt: skip


def _restricted_v1_0(pod: PodView) -> list[Violation]:
    found = []
    for v in pod.volumes:
        sources = v.sources or ("emptyDir",)  # the API server defaults a source-less volume
        if ALLOWED_SOURCES.intersection(sources):
            continue
        kind = next((s for s in RESTRICTED_SOURCES if s in sources), None)
        found.append(_on_volume(v.path, v.name, kind, kind or "unknown"))
    return found


def _describe_restricted(vs: Sequence[Violation]) -> tuple[str, str]:
    names, types = owners(vs), sorted_unique(v.value for v in vs)
    return "restricted volume types", (
        f"{plural(len(names), 'volume', 'volumes')} {qlist(names)} "
        f"{plural(len(names), 'uses', 'use')} "
        f"{plural(len(types), 'restricted volume type', 'restricted volume types')} {qlist(types)}"
    )


RESTRICTED: Check = Check(
    id="restrictedVolumes",
    level=CheckLevel.RESTRICTED,
    title="Pod uses a volume type outside the restricted allow-list",
    severity=Severity.MEDIUM,
    revisions=(((1, 0), _restricted_v1_0),),
    describe=_describe_restricted,
    rationale="Only ephemeral and API-managed volume types keep a pod's storage away from the "
    "node and from unvetted network file systems.",
    remediation="Use only configMap, csi, downwardAPI, emptyDir, ephemeral, image, "
    "persistentVolumeClaim, projected or secret volumes.",
    overrides=("hostPathVolumes",),
    fields=("spec.volumes[*]",),
)
