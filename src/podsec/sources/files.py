"""Read manifest files and standard input into evaluated results (I/O edge).

Each file is split into documents at ``---`` lines (a document marker at column 0
cannot occur inside YAML content), so that a broken document never hides the others.
Documents that cannot hold a pod are only syntax-checked by libyaml, without building
Python objects; the rest are parsed with positions and evaluated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from podsec.evaluate import Context, evaluate_object
from podsec.findings import FileResult, InputError
from podsec.model.workloads import ObjectRef
from podsec.sources import kyaml

EXTENSIONS = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 64 * 1024 * 1024
_SPLIT = re.compile(rb"^---(?=[ \t\r\n]|$)", re.MULTILINE)
_KIND = re.compile(rb"""kind["']?[ \t]*:[ \t]*["']?([A-Za-z0-9_.-]*)""")
_HELM = re.compile(rb"\{\{-?\s*(?:\.Values|\.Release|\.Chart|include|template|toYaml|if|range|end|\$)")


@dataclass(frozen=True, slots=True)
class Target:
    """A file to scan: its path on disk (None for stdin) and its name in reports."""

    path: str | None
    name: str


class UsageError(Exception):
    pass


def discover(paths: Iterable[str], *, excluded: Iterable[str] = ()) -> Iterator[Target | InputError]:
    """The files under ``paths`` (``-`` is standard input), in a stable order.

    Directories are walked recursively for .yaml/.yml/.json files; hidden directories
    and files are skipped. A path that does not exist is an input error.
    """
    import fnmatch

    patterns = tuple(excluded)

    def skip(path: str) -> bool:
        norm = path.replace(os.sep, "/")
        return any(fnmatch.fnmatch(norm, p) or fnmatch.fnmatch(os.path.basename(norm), p) for p in patterns)

    for given in paths:
        if given == "-":
            yield Target(None, "-")
        elif os.path.isdir(given):
            for root, dirs, files in os.walk(given):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not skip(os.path.join(root, d)))
                for f in sorted(files):
                    full = os.path.join(root, f)
                    if f.lower().endswith(EXTENSIONS) and not f.startswith(".") and not skip(full):
                        yield Target(full, full)
        elif os.path.exists(given):
            if not skip(given):
                yield Target(given, given)
        else:
            yield InputError(given, None, "no such file or directory")


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
    starts = [m.start() for m in _SPLIT.finditer(data)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    line = 0
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end]
        yield chunk, line
        line += chunk.count(b"\n")


def _needs_parse(chunk: bytes, pod_kinds: frozenset[bytes]) -> bool:
    """Whether a chunk might hold a pod (or lack kind/apiVersion, which is reported)."""
    if b"apiVersion" not in chunk:
        return True
    kinds = _KIND.findall(chunk)
    if not kinds:
        return True
    return any(k in pod_kinds or k.endswith(b"List") or not k for k in kinds)


def _objects(data: Any, prefix: str = "") -> Iterator[tuple[Mapping[str, Any] | None, str]]:
    """Objects in a document, expanding ``kind: *List``; (None, reason) for a non-object."""
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        yield None, f"{prefix}the document is {kind}, not a Kubernetes object"
        return
    kind, api = data.get("kind"), data.get("apiVersion")
    if not isinstance(kind, str) or not kind or not isinstance(api, str) or not api:
        missing = " and ".join(k for k, v in (("apiVersion", api), ("kind", kind)) if not isinstance(v, str) or not v)
        yield None, f"{prefix}not a Kubernetes object: no {missing}"
        return
    if kind.endswith("List") and isinstance(data.get("items"), list):
        for i, item in enumerate(data["items"]):
            yield from _objects(item, f"{prefix}items[{i}]: ")
        return
    yield data, ""


def scan_bytes(data: bytes, name: str, ctx: Context) -> FileResult:
    """Evaluate every object in one file's bytes."""
    result = FileResult(name)
    bad = _check_bytes(data, name)
    if bad is not None:
        result.errors.append(bad)
        return result
    pod_kinds = frozenset(k.encode() for k in ctx.kinds.kinds)
    found = False  # any document with content at all
    for chunk, offset in _chunks(data):
        if not _needs_parse(chunk, pod_kinds):
            found = True  # it names an apiVersion and a kind
            try:
                kyaml.syntax_check(chunk)
            except kyaml.YamlError as exc:
                result.errors.append(_yaml_error(exc, chunk, name, offset))
            continue
        try:
            docs = kyaml.load_all(chunk)
        except kyaml.YamlError as exc:
            result.errors.append(_yaml_error(exc, chunk, name, offset))
            continue
        for doc in docs:
            if doc.data is None:
                continue  # an empty document, as between two "---" lines
            found = True
            for obj, problem in _objects(doc.data):
                if obj is None:
                    result.errors.append(InputError(name, offset + doc.line, problem))
                    continue
                line = _object_line(doc.data, obj, offset + doc.line, offset)
                outcome = evaluate_object(obj, ctx, file=name, line_offset=offset, object_line=line)
                if isinstance(outcome, list):
                    result.errors.extend(outcome)
                elif outcome is not None:
                    result.objects.append(outcome)
    if not found and not result.errors:
        result.errors.append(InputError(name, None, "no Kubernetes objects: the file is empty or holds only comments"))
    return result


def _object_line(doc: Any, obj: Any, doc_line: int, offset: int) -> int:
    if obj is doc:
        return doc_line
    items = doc.get("items")
    pos = getattr(items, "lc", None)
    if isinstance(items, list) and pos:
        for i, item in enumerate(items):
            if item is obj:
                return pos[i][0] + offset
    return doc_line


def _yaml_error(exc: kyaml.YamlError, chunk: bytes, name: str, offset: int) -> InputError:
    line = exc.line + offset if exc.line is not None else None
    message = f"invalid YAML: {exc.message}"
    if _HELM.search(chunk):
        message += " (this looks like an unrendered Helm template; run `helm template` and scan its output)"
    return InputError(name, line, message, exc.column)


def read_target(target: Target, stdin: Any = None) -> bytes | InputError:
    """The bytes of a target, or an input error."""
    try:
        if target.path is None:
            import sys

            stream = stdin if stdin is not None else sys.stdin.buffer
            data: bytes = stream.read(MAX_FILE_BYTES + 1)
        else:
            size = os.path.getsize(target.path)
            if size > MAX_FILE_BYTES:
                return InputError(target.name, None, f"file too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})")
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


__all__ = ["ObjectRef", "Target", "UsageError", "discover", "read_target", "scan_bytes", "scan_target"]
