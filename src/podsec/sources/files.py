"""Read manifest files and standard input into evaluated results (I/O edge).

Each file is split into documents at ``---`` lines (a document marker at column 0
cannot occur inside YAML content), so that a broken document never hides the others.
Documents that cannot hold a pod are only syntax-checked by libyaml, without building
Python objects; the rest are parsed with positions and evaluated.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Protocol

import pathspec

from podsec.evaluate import Context, evaluate_object
from podsec.findings import FileResult, InputError, ObjectResult
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
    relocate: Relocate | None = None  # maps findings on rendered content back to their sources
    sources: frozenset[str] = frozenset()  # rendered content: the files it was rendered from (absolute)


class Relocate(Protocol):
    """Moves an evaluated object's findings from rendered output to the files it was rendered from."""

    def __call__(self, obj: Mapping[str, Any], result: ObjectResult) -> ObjectResult: ...


OWN_FILES = frozenset({".podsec.yaml", "podsec-test.yaml", "podsec-baseline.yaml"})
"""podsec's own files (configuration, policy test suites, baselines), not manifests: never scanned,
even when given by name (pre-commit passes every changed file)."""

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""Kustomize's own files: never scanned as manifests (kustomize.py renders them)."""


def missing(paths: Iterable[str]) -> list[InputError]:
    """An input error for each given path that does not exist."""
    return [InputError(p, None, "no such file or directory") for p in paths if p != "-" and not os.path.exists(p)]


@dataclass(frozen=True, slots=True)
class Exclude:
    """``.gitignore``-style patterns, matched against paths relative to ``base`` (the directory
    of the configuration file), or, when ``base`` is None, relative to each scanned PATH."""

    patterns: tuple[str, ...]
    base: str | None = None
    origin: str = "--exclude"

    def spec(self, base: str) -> pathspec.GitIgnoreSpec:
        """The patterns as matched against paths relative to the absolute directory ``base``."""
        return pathspec.GitIgnoreSpec.from_lines(_anchored(p, base) for p in self.patterns)


def _anchored(pattern: str, base: str) -> str:
    """``pattern`` as .gitignore reads it relative to ``base``: an absolute path inside ``base``
    and a ``./`` path both become the pattern anchored there (``/charts/``)."""
    negate = "!" if pattern.startswith("!") else ""
    body = pattern.removeprefix(negate)
    if body.startswith("./"):
        return f"{negate}/{body[2:]}"
    if os.path.isabs(body) and os.path.commonpath([body, base]) == base:
        rel = os.path.relpath(body, base)
        tail = "/" if body.endswith("/") and rel != "." else ""
        return f"{negate}/{'**' if rel == '.' else rel.replace(os.sep, '/')}{tail}"
    return pattern


class _Matcher:
    """Whether a path is excluded, by any of the ``Exclude`` sets."""

    def __init__(self, excludes: Sequence[Exclude]) -> None:
        self._rules = [e for e in excludes if e.patterns]
        self._specs: dict[tuple[int, str], pathspec.GitIgnoreSpec] = {}

    def __bool__(self) -> bool:
        return bool(self._rules)

    def _spec(self, i: int, base: str) -> pathspec.GitIgnoreSpec:
        spec = self._specs.get((i, base))
        if spec is None:
            spec = self._specs[i, base] = self._rules[i].spec(base)
        return spec

    def which(self, path: str, root: str, *, is_dir: bool) -> Exclude | None:
        """The first ``Exclude`` that matches ``path`` (found under the scanned ``root``).

        Command-line patterns are matched against the path relative to the scanned root, and
        also relative to the working directory (``--exclude 'charts/*'`` means the same
        whether ``.`` or ``charts`` is scanned); configuration patterns relative to the file.
        """
        full = os.path.abspath(path)
        for i, exclude in enumerate(self._rules):
            bases = [exclude.base] if exclude.base is not None else [root, os.curdir]
            for base in dict.fromkeys(os.path.abspath(b) for b in bases):
                rel = os.path.relpath(full, base)
                if rel == "." or rel == ".." or rel.startswith(".." + os.sep):
                    continue  # outside the directory the patterns are relative to
                if self._spec(i, base).match_file(rel.replace(os.sep, "/") + ("/" if is_dir else "")):
                    return exclude
        return None


class Walk:
    """The files under ``paths`` (``-`` is standard input), lazily and in a stable order.

    Directories are walked recursively for .yaml/.yml/.json files; hidden directories
    and files are skipped, and so are kustomization files, the files in ``skip`` (absolute
    paths: those kustomize renders or uses as patches), Helm chart directories (their
    templates are not manifests until rendered) and paths an ``Exclude`` matches. What
    was left out and why is in ``notes`` once the walk is done, and so is each ``.podsec.yaml``
    found below a scanned directory that is not ``config`` (the configuration in use). Paths
    that do not exist are left to `missing`.
    """

    def __init__(
        self,
        paths: Iterable[str],
        excludes: Sequence[Exclude] = (),
        skip: AbstractSet[str] = frozenset(),
        config: str | None = None,
    ):
        self.paths = list(paths)
        self.skip = skip
        self.config = os.path.abspath(config) if config else None
        self.notes: list[str] = []
        self.excluded = 0
        self._match = _Matcher(excludes)

    def _excluded(self, path: str, root: str, *, is_dir: bool) -> bool:
        if not self._match:
            return False
        found = self._match.which(path, root, is_dir=is_dir)
        if found is not None:
            self.excluded += 1
            return True
        return False

    def __iter__(self) -> Iterator[Target]:
        in_charts: dict[str, list[str]] = {}  # Helm chart: the files given in it
        for given in self.paths:
            if given == "-":
                yield Target(None, "-")
            elif os.path.isdir(given):
                yield from self._walk(given)
            elif os.path.exists(given):
                if os.path.basename(given) in (*KUSTOMIZATION_FILES, *OWN_FILES) or os.path.abspath(given) in self.skip:
                    continue  # kustomize's or podsec's own file, or one a rendered kustomization covers
                if self._excluded(given, os.path.dirname(given) or ".", is_dir=False):
                    self.notes.append(f"{given} is excluded ({self._why(given)}); not scanned")
                    continue
                chart = next((d for d in _parents(given) if os.path.isfile(os.path.join(d, "Chart.yaml"))), None)
                if chart is not None:  # as a directory scan leaves the chart out
                    in_charts.setdefault(chart, []).append(given)
                    continue
                yield Target(given, given)
        for chart, files in in_charts.items():
            more = f" (and {len(files) - 1} more)" if len(files) > 1 else ""
            self.notes.append(f"{files[0]}{more} is in the Helm chart {chart}: {_NOT_A_MANIFEST.format(chart=chart)}")

    def directories(self, *, with_file: Sequence[str]) -> Iterator[tuple[str, str]]:
        """(directory, directory) for each directory the walk would enter (and each given
        directory) that holds one of ``with_file``; for a given file, its own directory and
        those above it up to the working directory (where a kustomization using it may live)."""
        match, seen = _Matcher([]), set()
        match, self._match = self._match, match  # look without counting exclusions
        try:
            for given in self.paths:
                if given == "-" or not os.path.exists(given):
                    continue
                if not os.path.isdir(given):
                    for d in _parents(given):
                        if d not in seen and any(os.path.isfile(os.path.join(d, f)) for f in with_file):
                            seen.add(d)
                            yield d, d
                    continue
                for root, dirs, names in os.walk(given):
                    dirs[:] = sorted(
                        d for d in dirs
                        if not d.startswith(".") and not match.which(os.path.join(root, d), given, is_dir=True)
                        and not os.path.isfile(os.path.join(root, d, "Chart.yaml"))
                    )  # fmt: skip
                    if any(f in names for f in with_file) and root not in seen:
                        seen.add(root)
                        yield root, root
        finally:
            self._match = match

    def _why(self, path: str) -> str:
        found = self._match.which(path, os.path.dirname(path) or ".", is_dir=os.path.isdir(path))
        return found.origin if found else "excluded"

    def _walk(self, given: str) -> Iterator[Target]:
        yielded = seen = 0  # files scanned; files of these extensions at all
        excluded_before, notes_before = self.excluded, len(self.notes)
        for root, dirs, names in os.walk(given):
            kept = []
            for d in sorted(dirs):
                full = os.path.join(root, d)
                if d.startswith(".") or self._excluded(full, given, is_dir=True):
                    continue
                if os.path.isfile(os.path.join(full, "Chart.yaml")):
                    self.notes.append(f"{full} is a Helm chart: its {_NOT_A_MANIFEST.format(chart=full)}")
                    continue
                kept.append(d)
            dirs[:] = kept
            nested = os.path.join(root, ".podsec.yaml")
            if ".podsec.yaml" in names and os.path.abspath(nested) != self.config:
                self.notes.append(
                    f"{nested} is not used: a run has one configuration, the nearest from the scanned paths upward "
                    f"(scan {root} on its own, or pass --config)"
                )
            for name in sorted(names):
                full = os.path.join(root, name)
                if not name.lower().endswith(EXTENSIONS) or name.startswith("."):
                    continue
                seen += 1
                if name in OWN_FILES or name in KUSTOMIZATION_FILES or os.path.abspath(full) in self.skip:
                    continue
                if self._excluded(full, given, is_dir=False):
                    continue
                yielded += 1
                yield Target(full, full)
        if yielded == 0 and self.excluded > excluded_before:
            self.notes.append(f"{given}: everything in it is excluded by the exclude patterns; nothing scanned there")
        elif seen == 0 and len(self.notes) == notes_before:  # as ruff warns of a path with no Python files
            self.notes.append(f"{given}: no {', '.join(EXTENSIONS)} files in it; nothing scanned there")


_NOT_A_MANIFEST = "templates are not scanned as files (scan its output: helm template NAME {chart} | podsec scan -)"


def _parents(path: str) -> list[str]:
    """The directories from ``path``'s own up to the working directory (or its root when outside)."""
    here = os.path.dirname(os.path.abspath(path))
    stop = os.getcwd()
    out = []
    while True:
        out.append(os.path.relpath(here) if here.startswith(stop) else here)
        if here == stop or os.path.dirname(here) == here or not here.startswith(stop):
            return out
        here = os.path.dirname(here)


def discover(paths: Iterable[str], *, excluded: Iterable[str] = ()) -> Iterator[Target]:
    """`Walk` with ``excluded`` patterns relative to each PATH (for callers without notes)."""
    patterns = tuple(excluded)
    return iter(Walk(paths, [Exclude(patterns)] if patterns else []))


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
    """Objects in a document, expanding ``kind: *List``; (None, reason) for a non-object.

    A JSON Patch (a list of operations, as in a kustomization's patch file that no
    kustomization uses at the moment) holds no object: it is passed over quietly, like a ConfigMap.
    """
    if _is_json_patch(data):
        return
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


def _is_json_patch(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(op, dict) and "op" in op and "path" in op for op in data)
    )


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


def scan_bytes(data: bytes, name: str, ctx: Context, relocate: Relocate | None = None) -> FileResult:
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
            if relocate is not None:
                outcome = relocate(item.obj, outcome)
            elif item.template is not None and (outcome.findings or outcome.suppressed):
                from podsec.sources import helm

                outcome = helm.annotate(outcome, item.template, name)
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
    result = scan_bytes(data, target.name, ctx, target.relocate)
    result.sources = target.sources
    return result


__all__ = [
    "Exclude",
    "Located",
    "ObjectRef",
    "Target",
    "Walk",
    "discover",
    "missing",
    "read_objects",
    "read_target",
    "scan_bytes",
    "scan_target",
]
