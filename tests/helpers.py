"""The tests' shared fixtures: minimal valid pods per level and version, the tweak helper,
one context builder, and one-call evaluation.

`minimal_pod` follows the shape of PSA's own fixture base pods (an init container and
a container; restricted adds what each version requires), so a table row is
"the minimal valid pod, tweaked in one way". `context` builds the evaluation context
every test needs (a profile at a version, the built-in kinds), with any field changed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from podsec import engine
from podsec.evaluate import Context, evaluate_object
from podsec.findings import ObjectResult
from podsec.model import pod as podmodel
from podsec.model.standards import Level, PolicyVersion, Profile
from podsec.model.workloads import POD, KindTable

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


def tweak(pod: Pod, fn: Callable[[Pod], object]) -> Pod:
    """A deep copy of ``pod`` changed by ``fn`` (the table rows' "minimal pod, tweaked in one way")."""
    out = copy.deepcopy(pod)
    fn(out)
    return out


def policy(profile: str = "restricted", version: str = "latest", **select: Any) -> engine.Policy:
    """The checks of a profile (``baseline``, ``restricted``, ``hardened`` ...) at a version."""
    target = Level(profile) if profile in {level.value for level in Level} else Profile(profile)
    return engine.select(target, PolicyVersion.parse(version), **select)


def context(
    profile: str = "restricted",
    version: str = "latest",
    *,
    kinds: KindTable | None = None,
    select: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Context:
    """The evaluation context of a profile at a version with the built-in kinds; ``select`` passes
    options to `engine.select` (``enable``, ``options`` ...), ``fields`` set any other of the context."""
    return Context(policy(profile, version, **(select or {})), kinds or KindTable(), **fields)


def view(pod: Pod) -> podmodel.PodView:
    """The view the checks read of a bare Pod (its fields must be well typed)."""
    read = podmodel.read_pod(pod, POD)
    assert not isinstance(read, list), read
    return read


def evaluated(obj: Pod, ctx: Context) -> ObjectResult:
    """The result of one object that carries a pod."""
    out = evaluate_object(obj, ctx, file=None)
    assert isinstance(out, ObjectResult), out
    return out


def results(pod: Pod, level: str, version: str) -> list[tuple[str, str]]:
    """[(check id, "reason (detail)")] for a bare pod dict, in PSA's order."""
    return [(r.check.id, r.message()) for r in engine.evaluate(view(pod), policy(level, version))]


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
