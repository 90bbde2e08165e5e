"""Test helpers: minimal valid pods per level and version, and one-call evaluation.

`minimal_pod` follows the shape of PSA's own fixture base pods (an init container and
a container; restricted adds what each version requires), so a table row is
"the minimal valid pod, tweaked in one way".
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from podsec import engine
from podsec.model import pod as podmodel
from podsec.model.standards import Level, PolicyVersion
from podsec.model.workloads import POD

Pod = dict[str, Any]


def minimal_pod(level: str, minor: int) -> Pod:
    pod: Pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "test"},
        "spec": {
            "initContainers": [{"name": "initcontainer1", "image": "registry.k8s.io/pause"}],
            "containers": [{"name": "container1", "image": "registry.k8s.io/pause"}],
        },
    }
    if level == "restricted":
        spec = pod["spec"]
        spec["securityContext"] = {"runAsNonRoot": True}
        if minor >= 8:
            for c in (*spec["initContainers"], *spec["containers"]):
                c["securityContext"] = {"allowPrivilegeEscalation": False}
        if minor >= 19:
            spec["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
        if minor >= 22:
            for c in (*spec["initContainers"], *spec["containers"]):
                c["securityContext"]["capabilities"] = {"drop": ["ALL"]}
    return pod


def tweak(pod: Pod, fn: Callable[[Pod], None]) -> Pod:
    out = copy.deepcopy(pod)
    fn(out)
    return out


def results(pod: Pod, level: str, version: str) -> list[tuple[str, str]]:
    """[(check id, "reason (detail)")] for a bare pod dict, in PSA's order."""
    policy = engine.select(Level(level), PolicyVersion.parse(version))
    problems = podmodel.validate_pod(pod, POD)
    assert not problems, problems
    view = podmodel.build_pod(pod, POD)
    return [(r.check.id, r.message()) for r in engine.evaluate(view, policy)]


def messages(pod: Pod, level: str, version: str) -> dict[str, str]:
    return dict(results(pod, level, version))


def container_sc(pod: Pod, kind: str = "containers", index: int = 0) -> dict[str, Any]:
    c = pod["spec"][kind][index]
    sc: dict[str, Any] = c.setdefault("securityContext", {})
    return sc


def pod_sc(pod: Pod) -> dict[str, Any]:
    sc: dict[str, Any] = pod["spec"].setdefault("securityContext", {})
    return sc


def add_ephemeral(pod: Pod, name: str = "debugger", **sc: Any) -> None:
    c: dict[str, Any] = {"name": name, "image": "busybox"}
    if sc:
        c["securityContext"] = sc
    pod["spec"].setdefault("ephemeralContainers", []).append(c)
