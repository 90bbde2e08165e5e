"""Effective security context: container over pod over unset, with the source recorded."""

from __future__ import annotations

import pytest

from podsec.model import pod as podmodel
from tests import helpers


def view(pod_sc: dict | None, c_sc: dict | None) -> podmodel.PodView:
    spec: dict = {"containers": [{"name": "c"}]}
    if pod_sc is not None:
        spec["securityContext"] = pod_sc
    if c_sc is not None:
        spec["containers"][0]["securityContext"] = c_sc
    return helpers.view({"kind": "Pod", "spec": spec})


SHARED = [
    ("run_as_user", "runAsUser", 1, 2),
    ("run_as_group", "runAsGroup", 3, 4),
    ("run_as_non_root", "runAsNonRoot", True, False),
]


@pytest.mark.parametrize(("attr", "field", "pod_value", "c_value"), SHARED)
def test_precedence_table(attr: str, field: str, pod_value: object, c_value: object) -> None:
    cases = [
        (
            {field: pod_value},
            {field: c_value},
            c_value,
            "container",
            ("spec", "containers", 0, "securityContext", field),
        ),
        ({field: pod_value}, {}, pod_value, "pod", ("spec", "securityContext", field)),
        (None, {field: c_value}, c_value, "container", ("spec", "containers", 0, "securityContext", field)),
        ({}, None, None, "unset", ("spec", "containers", 0, "securityContext", field)),
    ]
    for pod_sc, c_sc, value, source, path in cases:
        resolved = getattr(view(pod_sc, c_sc).containers[0].effective, attr)
        assert (resolved.value, resolved.source, resolved.path) == (value, source, path)


def test_container_only_fields_never_inherit() -> None:
    # a container-only field written at pod level (a mistake) does not apply
    eff = view({"privileged": True, "allowPrivilegeEscalation": False}, None).containers[0].effective
    assert eff.privileged.source == "unset" and eff.allow_privilege_escalation.source == "unset"


def test_profiles_keep_type_empty_when_unset() -> None:
    eff = view({"seccompProfile": {}}, {"appArmorProfile": {"localhostProfile": "p"}}).containers[0].effective
    assert eff.seccomp_profile.source == "pod" and eff.seccomp_profile.value.type == ""
    assert eff.app_armor_profile.value.type == "" and eff.app_armor_profile.value.localhost_profile == "p"


def test_own_hides_inherited_values() -> None:
    eff = view({"runAsNonRoot": True}, {}).containers[0].effective
    assert eff.run_as_non_root.source == "pod"
    assert eff.own("run_as_non_root").source == "unset"


def test_null_is_unset() -> None:
    eff = view({"runAsUser": None}, {"runAsUser": None, "capabilities": None}).containers[0].effective
    assert eff.run_as_user.source == "unset" and eff.capabilities.source == "unset"


def test_containers_in_psa_order() -> None:
    spec = {
        "ephemeralContainers": [{"name": "e"}],
        "containers": [{"name": "c1"}, {"name": "c2"}],
        "initContainers": [{"name": "i"}],
    }
    v = helpers.view({"spec": spec})
    assert [(c.kind, c.name) for c in v.containers] == [
        ("initContainers", "i"),
        ("containers", "c1"),
        ("containers", "c2"),
        ("ephemeralContainers", "e"),
    ]


def test_a_volume_s_sources_are_in_the_api_s_order_whatever_order_they_are_written_in() -> None:
    """VolumeView.sources follow the VolumeSource fields' order (as PSA reads them), not the manifest's."""
    written = {"name": "v", "nfs": {"server": "s", "path": "/"}, "configMap": {"name": "c"}, "hostPath": {"path": "/"}}
    spec = {"containers": [{"name": "c"}], "volumes": [written, {"name": "w", "secret": {}, "emptyDir": {}}]}
    v = helpers.view({"spec": spec})
    assert [vol.sources for vol in v.volumes] == [("hostPath", "nfs", "configMap"), ("emptyDir", "secret")]
    reordered = {"spec": {**spec, "volumes": [dict(reversed(list(written.items()))), spec["volumes"][1]]}}
    assert [vol.sources for vol in helpers.view(reordered).volumes] == [vol.sources for vol in v.volumes]


def test_every_volume_source_is_read_in_the_order_of_the_api_s_volume_source() -> None:
    """All of k8s.io/api/core/v1 VolumeSource's fields, written backwards, come out in its order
    (pins every entry of the schema's table, not only the pairs the test above writes)."""
    upstream = (
        "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
        "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder",
        "cephfs", "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume",
        "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
        "storageos", "csi", "ephemeral", "image",
    )  # fmt: skip
    volume = {"name": "v", **{source: {} for source in reversed(upstream)}}
    v = helpers.view({"spec": {"containers": [{"name": "c"}], "volumes": [volume]}})
    assert v.volumes[0].sources == upstream
