"""The API server's preparation of a bare Pod before PSA (podsec.model.prepare); the real server
agrees (tests/kube/test_psa_corpus.py)."""

from __future__ import annotations

from typing import Any

import pytest

from podsec.model.prepare import apparmor_field, prepare_pod
from tests.helpers import messages

AA = "container.apparmor.security.beta.kubernetes.io/"


def pod(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": annotations or {}},
        "spec": spec,
    }


def test_host_network_defaults_host_ports_of_init_and_regular_containers() -> None:
    ports = [{"containerPort": 80}, {"containerPort": 81, "hostPort": 0}, {"containerPort": 82, "hostPort": 9000}]
    spec = {
        "hostNetwork": True,
        "initContainers": [{"name": "i", "image": "x", "ports": ports}],
        "containers": [{"name": "c", "image": "x", "ports": ports}],
    }
    got = prepare_pod(pod(spec))["spec"]
    for kind in ("initContainers", "containers"):
        assert [p["hostPort"] for p in got[kind][0]["ports"]] == [80, 81, 9000]
    assert "hostPort" not in ports[0]  # the input is not changed
    assert messages(pod(spec), "baseline", "latest")["hostPorts"] == (
        'hostPort (containers "i", "c" use hostPorts 80, 81, 9000)'
    )


def test_nothing_changes_without_host_network_or_annotations() -> None:
    p = pod({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}]})
    assert prepare_pod(p) is p


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("unconfined", {"type": "Unconfined"}),
        ("runtime/default", {"type": "RuntimeDefault"}),
        ("localhost/prof", {"type": "Localhost", "localhostProfile": "prof"}),
        ("localhost/", None),
        ("localhost/ padded", None),
        ("bogus", None),
        ("", None),
    ],
)
def test_apparmor_annotation_to_field(value: str, field: dict[str, str] | None) -> None:
    assert apparmor_field(value) == field


def test_apparmor_sync_rules() -> None:
    containers = [
        {"name": "a", "image": "x"},
        {
            "name": "b",
            "image": "x",
            "securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}},
        },
        {"name": "c", "image": "x"},
    ]
    annotations = {AA + "a": "unconfined", AA + "b": "unconfined", AA + "c": "runtime/default"}
    got = prepare_pod(pod({"containers": containers}, annotations))["spec"]["containers"]
    assert got[0]["securityContext"] == {"appArmorProfile": {"type": "Unconfined"}}
    assert got[1] == containers[1]  # a field of its own wins
    assert got[2]["securityContext"] == {"appArmorProfile": {"type": "RuntimeDefault"}}
    # equal to the pod-level profile: not copied; Windows pods: never
    same = pod(
        {"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}}, "containers": containers[2:]}, annotations
    )
    assert prepare_pod(same) is same
    windows = pod({"os": {"name": "windows"}, "containers": containers[:1]}, annotations)
    assert prepare_pod(windows) is windows
