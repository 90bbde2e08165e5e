"""Read manifest files and standard input into evaluated results (I/O edge).

Each file is split into documents at ``---`` lines (a document marker at column 0
cannot occur inside YAML content), so that a broken document never hides the others.
Documents that cannot hold a pod are only syntax-checked by libyaml, without building
Python objects; the rest are parsed with positions and evaluated.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from podsec.evaluate import Context, evaluate_object
from podsec.findings import FileResult, InputError
from podsec.model.workloads import KindTable, ObjectRef
from podsec.sources import kyaml

EXTENSIONS = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 64 * 1024 * 1024
_KIND = re.compile(rb"""kind["']?[ \t]*:[ \t]*["']?([A-Za-z0-9_.-]*)""")
# In block style, keys at column 0 belong to the top-level mapping.
_TOP_VALUE = re.compile(rb"""[ \t]*(["']?)([A-Za-z0-9_./-]+)\1[ \t]*(?:#[^\n]*)?\r?(?:\n|$)""")


def _top_level(chunk: bytes, key: bytes) -> list[bytes] | None:
    """Values of ``key:`` lines at column 0; None if any such line is not a plain value."""
    values = []
    needle = b"\n" + key + b":"
    pos = 0 if chunk.startswith(key + b":") else chunk.find(needle)
    while pos != -1:
        start = pos + len(key) + 1 + (chunk[pos : pos + 1] == b"\n")
        m = _TOP_VALUE.match(chunk, start)
        if m is None:
            return None
        values.append(m.group(2))
        pos = chunk.find(needle, start)
    return values


_HELM = re.compile(rb"\{\{-?\s*(?:\.Values|\.Release|\.Chart|include|template|toYaml|if|range|end|\$)")


@dataclass(frozen=True, slots=True)
class Target:
    """A file to scan: its path on disk (None for stdin or rendered content) and its name in reports."""

    path: str | None
    name: str
    data: bytes | None = None  # content produced by podsec itself (e.g. kustomize output)


OWN_FILES = frozenset({"podsec-test.yaml"})
"""podsec's own files (policy test suites), not manifests: skipped when a directory is searched."""


def missing(paths: Iterable[str]) -> list[InputError]:
    """An input error for each given path that does not exist."""
    return [InputError(p, None, "no such file or directory") for p in paths if p != "-" and not os.path.exists(p)]


def discover(paths: Iterable[str], *, excluded: Iterable[str] = ()) -> Iterator[Target]:
    """The files under ``paths`` (``-`` is standard input), lazily and in a stable order.

    Directories are walked recursively for .yaml/.yml/.json files; hidden directories
    and files are skipped, and so are paths matching an ``excluded`` glob. Paths that
    do not exist are left to `missing`.
    """
    patterns = tuple(excluded)

    def skip(path: str) -> bool:
        if not patterns:
            return False
        norm = path.replace(os.sep, "/")
        return any(fnmatch.fnmatch(norm, p) or fnmatch.fnmatch(os.path.basename(norm), p) for p in patterns)

    for given in paths:
        if given == "-":
            yield Target(None, "-")
        elif os.path.isdir(given):
            for root, dirs, names in os.walk(given):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not skip(os.path.join(root, d)))
                for name in sorted(names):
                    full = os.path.join(root, name)
                    if (
                        name.lower().endswith(EXTENSIONS)
                        and not name.startswith(".")
                        and name not in OWN_FILES
                        and not skip(full)
                    ):
                        yield Target(full, full)
        elif os.path.exists(given) and not skip(given):
            yield Target(given, given)


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _check_bytes(data: bytes, name: str) -> InputError | None:
    if b"\0" in data[:8192]:
        return InputError(name, None, "binary file (not YAML or JSON text); skipped")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return InputError(name, 1, "UTF-16 text is not supported; convert the file to UTF-8")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return InputError(name, _line_at(data, exc.start), f"not valid UTF-8 (byte 0x{data[exc.start]:02x})")
    return None


def _chunks(data: bytes) -> Iterator[tuple[bytes, int]]:
    """(chunk, number of lines before it) for each ``---``-separated part."""
    starts = [0]
    pos = data.find(b"\n---")
    while pos != -1:  # a "---" line (bytes.find is far faster than a MULTILINE regex)
        start = pos + 1
        if data[start + 3 : start + 4] in (b"", b" ", b"\t", b"\r", b"\n"):
            starts.append(start)
        pos = data.find(b"\n---", start)
    line = 0
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end]
        yield chunk, line
        line += chunk.count(b"\n")


def _needs_parse(chunk: bytes, kinds: KindTable) -> bool:
    """Whether a chunk might hold a pod (or lack kind/apiVersion, which is reported).

    A block-style document names its kind and apiVersion at column 0, which settles
    it; anything else (JSON, flow style, indented documents) is judged conservatively.
    """
    top_kinds = _top_level(chunk, b"kind")
    top_apis = _top_level(chunk, b"apiVersion")
    if top_kinds is not None and top_apis is not None and len(top_kinds) == 1 and len(top_apis) == 1:
        kind, api = top_kinds[0].decode(), top_apis[0].decode()
        return kind.endswith("List") or kinds.rule_for({"kind": kind, "apiVersion": api}) is not None
    if b"apiVersion" not in chunk:
        return True
    found = _KIND.findall(chunk)
    if not found:
        return True
    pod_kinds = kinds.kind_names
    return any(k in pod_kinds or k.endswith(b"List") or not k for k in found)


def _objects(data: Any, prefix: str = "") -> Iterator[tuple[Mapping[str, Any] | None, str]]:
    """Objects in a document, expanding ``kind: *List``; (None, reason) for a non-object."""
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        yield None, f"{prefix}the document is {what}, not a Kubernetes object"
        return
    kind, api = data.get("kind"), data.get("apiVersion")
    if not isinstance(kind, str) or not kind or not isinstance(api, str) or not api:
        absent = " and ".join(k for k, v in (("apiVersion", api), ("kind", kind)) if not isinstance(v, str) or not v)
        yield None, f"{prefix}not a Kubernetes object: no {absent}"
        return
    if kind.endswith("List") and isinstance(data.get("items"), list):
        for i, item in enumerate(data["items"]):
            yield from _objects(item, f"{prefix}items[{i}]: ")
        return
    yield data, ""


@dataclass(frozen=True, slots=True)
class Located:
    """An object read from a file: the object, its document's line offset, its own line, and
    the Helm template it was rendered from (``# Source:`` comment), if any."""

    obj: Mapping[str, Any]
    line_offset: int
    line: int
    template: str | None = None


def _template(chunk: bytes) -> str | None:
    """The ``# Source: chart/templates/x.yaml`` comment helm template writes before each document."""
    for raw in chunk[:1024].splitlines():
        line = raw.strip()
        if line.startswith(b"# Source: "):
            return line[len(b"# Source: ") :].decode("utf-8", "replace").strip() or None
        if line and not line.startswith((b"#", b"---")):
            return None  # the document's content has begun
    return None


def read_objects(data: bytes, name: str, kinds: KindTable, *, every: bool = False) -> Iterator[Located | InputError]:
    """Every object of one file's bytes that may carry a pod (``every``: every object), and every input error.

    Otherwise, documents whose column-0 kind carries no pod are only syntax-checked.
    """
    bad = _check_bytes(data, name)
    if bad is not None:
        yield bad
        return
    found = failed = False  # any document with content at all; any error
    for chunk, offset in _chunks(data):
        if not every and not _needs_parse(chunk, kinds):
            found = True  # it names an apiVersion and a kind
            try:
                kyaml.syntax_check(chunk)
            except kyaml.YamlError as exc:
                failed = True
                yield _yaml_error(exc, chunk, name, offset)
            continue
        try:
            docs = kyaml.load_all(chunk)
        except kyaml.YamlError as exc:
            failed = True
            yield _yaml_error(exc, chunk, name, offset)
            continue
        template = _template(chunk)
        for doc in docs:
            if doc.data is None:
                continue  # an empty document, as between two "---" lines
            found = True
            for obj, problem in _objects(doc.data):
                if obj is None:
                    failed = True
                    yield InputError(name, offset + doc.line, problem)
                    continue
                yield Located(obj, offset, _object_line(doc.data, obj, offset + doc.line, offset), template)
    if not found and not failed:
        yield InputError(name, None, "no Kubernetes objects: the file is empty or holds only comments")


def scan_bytes(data: bytes, name: str, ctx: Context) -> FileResult:
    """Evaluate every object in one file's bytes."""
    result = FileResult(name)
    every = ctx.policies is not None and ctx.policies.scope == "all"
    for item in read_objects(data, name, ctx.kinds, every=every):
        if isinstance(item, InputError):
            result.errors.append(item)
            continue
        outcome = evaluate_object(
            item.obj, ctx, file=name, line_offset=item.line_offset, object_line=item.line, template=item.template
        )
        if isinstance(outcome, list):
            result.errors.extend(outcome)
        elif outcome is not None:
            result.objects.append(outcome)
            result.errors.extend(outcome.errors)
    return result


def _object_line(doc: Any, obj: Any, doc_line: int, offset: int) -> int:
    if obj is doc:
        return doc_line
    items = doc.get("items")
    pos = getattr(items, "lc", None)
    if isinstance(items, list) and pos:
        for i, item in enumerate(items):
            if item is obj:
                line: int = pos[i][0]
                return line + offset
    return doc_line


def _yaml_error(exc: kyaml.YamlError, chunk: bytes, name: str, offset: int) -> InputError:
    line = exc.line + offset if exc.line is not None else None
    message = f"invalid YAML: {exc.message}"
    if _HELM.search(chunk):
        message += " (this looks like an unrendered Helm template; run `helm template` and scan its output)"
    return InputError(name, line, message, exc.column)


def read_target(target: Target, stdin: Any = None) -> bytes | InputError:
    """The bytes of a target, or an input error."""
    if target.data is not None:
        return target.data
    try:
        if target.path is None:
            import sys

            stream = stdin if stdin is not None else sys.stdin.buffer
            data: bytes = stream.read(MAX_FILE_BYTES + 1)
        else:
            size = os.path.getsize(target.path)
            if size > MAX_FILE_BYTES:
                return InputError(
                    target.name, None, f"file too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})"
                )
            with open(target.path, "rb") as fh:
                data = fh.read()
    except OSError as exc:
        return InputError(target.name, None, f"cannot read: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:
        return InputError(target.name, None, f"input too large (the limit is {MAX_FILE_BYTES:,} bytes)")
    return data


def scan_target(target: Target, ctx: Context) -> FileResult:
    data = read_target(target)
    if isinstance(data, InputError):
        return FileResult(target.name, errors=[data])
    return scan_bytes(data, target.name, ctx)


__all__ = [
    "Located",
    "ObjectRef",
    "Target",
    "discover",
    "missing",
    "read_objects",
    "read_target",
    "scan_bytes",
    "scan_target",
]
