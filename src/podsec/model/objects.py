"""Objects as sources hand them over: what an object is (`ObjectRef`) and where it was read (`Located`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podsec.model.paths import Path
from podsec.model.values import Frozen


def _text(value: object) -> str | None:
    if value is None or type(value) is str:
        return value
    return None if isinstance(value, dict | list) else str(value)


@dataclass(frozen=True, slots=True)
class ObjectRef(Frozen):
    api_version: str | None
    kind: str | None
    namespace: str | None
    name: str | None

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        meta = obj.get("metadata")
        meta = meta if isinstance(meta, dict) else {}
        name = _text(meta.get("name"))
        if name is None and meta.get("generateName"):
            name = f"{_text(meta.get('generateName'))}*"
        return cls(_text(obj.get("apiVersion")), _text(obj.get("kind")), _text(meta.get("namespace")), name)

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind or '?'} {ns}{self.name or '(unnamed)'}"


@dataclass(slots=True, unsafe_hash=True, init=False)  # immutable by convention (CONTRIBUTING.md, "Hot values")
class Located:
    """An object as a source read it, and where: what every evaluation starts from.

    ``file`` is the name reports show (None: an admission request); ``line`` the object's
    own line; ``line_offset`` the lines of the file before its document (the positions
    the reader attached to the object count from the document's start); ``template`` the
    Helm template it was rendered from (a ``# Source:`` comment), if any; ``document``
    which document of the file holds it (1-based; 0 when not from a file). For editors
    (`podsec.fixer`): the byte range of the ``---``-separated part of the file that holds it
    (``span``), which of that part's non-empty documents it is (``part``), and where in that
    document the object is (``path``: ``()``, or ``("items", i)`` in a List).
    """

    obj: Mapping[str, Any]
    file: str | None = None
    line: int | None = None
    line_offset: int = 0
    template: str | None = None
    document: int = 0
    span: tuple[int, int] = (0, 0)
    part: int = 0
    path: Path = ()

    def __init__(  # one parameter per field
        self,
        obj: Mapping[str, Any],
        file: str | None = None,
        line: int | None = None,
        line_offset: int = 0,
        template: str | None = None,
        document: int = 0,
        span: tuple[int, int] = (0, 0),
        part: int = 0,
        path: Path = (),
    ) -> None:
        self.obj, self.file, self.line, self.line_offset, self.template = obj, file, line, line_offset, template
        self.document, self.span, self.part, self.path = document, span, part, path
