"""Shared pieces of podsec's own checks: one violation carries its own detail text."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from podsec.checks._base import ContainerView, Violation
from podsec.checks._helpers import on_container, on_pod
from podsec.model.paths import Path
from podsec.model.pod import display_name


def detail_describe(reason: str) -> Callable[[Sequence[Violation]], tuple[str, str]]:
    """``(reason, details joined)``: each violation's ``value`` is its own detail."""

    def describe(vs: Sequence[Violation]) -> tuple[str, str]:
        return reason, "; ".join(v.value for v in vs)

    return describe


def container_says(c: ContainerView, path: Path, detail: str) -> Violation:
    return on_container(c, path, None, f"container {display_name(c.label)} {detail}")


def pod_says(path: Path, detail: str) -> Violation:
    return on_pod(path, None, f"pod {detail}")


def says(c: ContainerView | None, path: Path, detail: str) -> Violation:
    """`container_says` for a container, `pod_says` for the pod (None)."""
    return pod_says(path, detail) if c is None else container_says(c, path, detail)
