"""Read manifest files and standard input into located objects (I/O edge; `podsec.pipeline` evaluates them).

Each file is split into documents at ``---`` lines (a document marker at column 0
cannot occur inside YAML content), so that a broken document never hides the others.
Documents that cannot hold a pod are only syntax-checked by libyaml, without building
Python objects; the rest are parsed with positions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Protocol

import pathspec

from podsec import kyaml, textscan
from podsec.findings import InputError, ObjectResult
from podsec.model.objects import Located, ObjectRef
from podsec.model.paths import Path
from podsec.model.workloads import KindTable
from podsec.textsafe import display_path

EXTENSIONS = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 64 * 1024 * 1024

# The pre-filter: a block-style document that names its apiVersion and kind on plain
# column-0 lines, and in which nothing could make a column-0 line part of something else,
# is certain to be what those lines say.
_DOC_START = re.compile(rb"---[ \t]*(?:#[^\r\n]*)?\r?\n")
_KEY_LINE = rb"[A-Za-z0-9_][A-Za-z0-9_.\-/]*:(?:[ \t]|\r?$)"
_FIRST_LINE = re.compile(rb"(?m)(?:[ \t]*(?:\#[^\r\n]*)?\r?\n)*" + _KEY_LINE)
# A column-0 line that could give the root a key in another spelling (quoted, tagged,
# anchored, complex, merged) or make the root something else (flow, block scalar,
# document markers, directives). Other column-0 lines are plain keys, sequence items or
# comments, or syntax errors, which the syntax check reports.
_NOT_A_KEY_LINE = re.compile(rb"\n[\"'?<{\[&*!%|>@`.\t\\]")
# Block scalar content (the lines indented past a line that ends in | or >) is text.
_BLOCK_SCALAR = re.compile(
    rb"(?m)^( *)[^ \r\n#][^\r\n]*[ \t][|>][-+0-9]*[ \t]*(?:#[^\r\n]*)?\r?\n((?:(?:\1 [^\r\n]*| *)\r?\n)*)"
)
# A quoted scalar or flow collection that starts on a line and does not end on it, and
# what it spans: libyaml lets such continuation lines start at column 0.
_OPENER = re.compile(rb"""(?m)(?:^|[ \t\[{,:])(["'\[{])""")
_DQ_SPAN = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_SQ_SPAN = re.compile(rb"'(?:[^']|'')*'", re.S)
_COLUMN_0 = re.compile(rb"[\r\n][^ \t\r\n]")
_TOP_VALUE = re.compile(
    rb"""[ \t]*(?:([A-Za-z0-9_./-]+)|"([A-Za-z0-9_./-]*)"|'([A-Za-z0-9_./-]*)')[ \t]*(?:\#[^\r\n]*)?\r?(?:\n|\Z)"""
)
_CONTINUED = re.compile(rb"(?:[ \t]*\r?\n)*[ \t]+[^ \t\r\n]")
# What could spell a key in another way (escapes), or give a scalar a type (explicit tags).
_ESCAPE = re.compile(rb"\\(?:[xuU]|\r?\n)")


def _blank_block_scalars(body: bytes) -> bytes:
    if b"|" not in body and b">" not in body:
        return body
    return _BLOCK_SCALAR.sub(lambda m: m.group()[: m.start(2) - m.start()] + b"\n" * m.group(2).count(b"\n"), body)


def _spans_stay_indented(body: bytes) -> bool:
    """Whether every quoted scalar and flow collection that goes on past its first line
    keeps its continuation lines indented (so no column-0 line is part of one)."""
    pos = 0
    while (m := _OPENER.search(body, pos)) is not None:
        start, opener = m.start(1), m.group(1)
        if opener in (b"[", b"{"):
            end, depth = textscan._scan_flow(body, start + 1, 1, len(body), [1])
            if depth:
                return False
        else:
            span = (_DQ_SPAN if opener == b'"' else _SQ_SPAN).match(body, start)
            if span is None:
                return False
            end = span.end()
        if _COLUMN_0.search(body, start, end):
            return False
        pos = end
    return True


_KEY_END = re.compile(rb"[ \t]*:")


def _top_value(body: bytes, key: bytes) -> tuple[str, int] | None:
    """The value of the one column-0 ``key:`` line of ``body`` (which starts with a line
    break), when it is certainly a plain string, and where that line starts."""
    needle = b"\n" + key
    found: tuple[str, int] | None = None
    pos = body.find(needle)
    while pos != -1:  # bytes.find: far faster than a regular expression over the document
        end = _KEY_END.match(body, pos + len(needle))
        if end is not None:
            if found is not None or end.end() != pos + len(needle) + 1:
                return None  # a duplicate key, or "kind :" (the same key): the full read decides
            m = _TOP_VALUE.match(body, end.end())
            if m is None:
                return None
            value = (m.group(1) or m.group(2) or m.group(3) or b"").decode()
            if not value:
                return None
            if m.group(1) is not None:
                if not kyaml.plain_is_string(value):
                    return None  # apiVersion: 1 is a number, which Kubernetes refuses
                if _CONTINUED.match(body, m.end()):
                    return None  # an indented next line would continue the scalar
            found = (value, pos)
        pos = body.find(needle, pos + len(needle))
    return found


def _identity(chunk: bytes, *, unusual_breaks: bool | None = None) -> tuple[str, str] | None:
    """(apiVersion, kind) of a block-style document when they are certain without parsing it."""
    if textscan.unusual_breaks(chunk) if unusual_breaks is None else unusual_breaks:
        return None
    if chunk.startswith(b"---"):
        m = _DOC_START.match(chunk)
        if m is None:
            return None
        body = b"\n" + chunk[m.end() :]
    else:
        body = b"\n" + chunk
    if not body.startswith((b"\napiVersion:", b"\nkind:")) and _FIRST_LINE.match(body, 1) is None:
        return None  # the root must be a block mapping at column 0
    if _NOT_A_KEY_LINE.search(body) is not None:
        return None
    kind, api = _top_value(body, b"kind"), _top_value(body, b"apiVersion")
    if kind is None or api is None:
        return None
    # Only what comes before those lines could open a quoted scalar or flow collection that
    # the lines are part of (libyaml lets their continuation lines start at column 0).
    text = _blank_block_scalars(body[: max(kind[1], api[1]) + 1])
    if (b'"' in text or b"'" in text or b"[" in text or b"{" in text) and not _spans_stay_indented(text):
        return None
    return api[0], kind[0]


_HELM = re.compile(rb"\{\{-?\s*(?:\.Values|\.Release|\.Chart|include|template|toYaml|if|range|end|\$)")


def has_helm_syntax(data: bytes) -> bool:
    """Whether the text holds Helm template actions (an unrendered template: never edited)."""
    return _HELM.search(data) is not None


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
                yield Target(given, display_path(given))
        for chart, files in in_charts.items():
            more = f" (and {len(files) - 1} more)" if len(files) > 1 else ""
            self.notes.append(f"{files[0]}{more} is in the Helm chart {chart}: {_NOT_A_MANIFEST.format(chart=chart)}")

    def directories(self, *, with_file: Sequence[str]) -> Iterator[tuple[str, str]]:
        """(directory, directory) for each directory the walk would enter (and each given
        directory) that holds one of ``with_file``; for a given file, its own directory and
        those above it up to the working directory (where a kustomization using it may live)."""
        match, seen = _Matcher([]), set[str]()
        match, self._match = self._match, match  # look without counting exclusions
        try:
            for given in self.paths:
                if given == "-" or not os.path.exists(given):
                    continue
                found = _walked(given, match) if os.path.isdir(given) else ((d, None) for d in _parents(given))
                for d, names in found:
                    if d not in seen and any(_holds(d, names, f) for f in with_file):
                        seen.add(d)
                        yield d, d
        finally:
            self._match = match

    def _why(self, path: str) -> str:
        found = self._match.which(path, os.path.dirname(path) or ".", is_dir=os.path.isdir(path))
        return found.origin if found else "excluded"

    def _walk(self, given: str) -> Iterator[Target]:
        yielded = seen = 0  # files scanned; files of these extensions at all
        excluded_before, notes_before = self.excluded, len(self.notes)
        for root, dirs, names in os.walk(given):
            dirs[:] = self._subdirectories(root, dirs, given)
            self._note_nested_config(root, names)
            counts = yield from self._files(root, names, given)
            yielded, seen = yielded + counts[0], seen + counts[1]
        if yielded == 0 and self.excluded > excluded_before:
            self.notes.append(f"{given}: everything in it is excluded by the exclude patterns; nothing scanned there")
        elif seen == 0 and len(self.notes) == notes_before:  # as ruff warns of a path with no Python files
            self.notes.append(f"{given}: no {', '.join(EXTENSIONS)} files in it; nothing scanned there")

    def _subdirectories(self, root: str, dirs: list[str], given: str) -> list[str]:
        """The directories under ``root`` to walk into: not hidden, excluded or Helm charts."""
        kept = []
        for d in sorted(dirs):
            full = os.path.join(root, d)
            if d.startswith(".") or self._excluded(full, given, is_dir=True):
                continue
            if os.path.isfile(os.path.join(full, "Chart.yaml")):
                self.notes.append(f"{full} is a Helm chart: its {_NOT_A_MANIFEST.format(chart=full)}")
                continue
            kept.append(d)
        return kept

    def _note_nested_config(self, root: str, names: list[str]) -> None:
        nested = os.path.join(root, ".podsec.yaml")
        if ".podsec.yaml" in names and os.path.abspath(nested) != self.config:
            self.notes.append(
                f"{nested} is not used: a run has one configuration, the nearest from the scanned paths upward "
                f"(scan {root} on its own, or pass --config)"
            )

    def _files(self, root: str, names: list[str], given: str) -> Generator[Target, None, tuple[int, int]]:
        """The files in ``root`` to scan; returns how many, and how many files of these extensions it holds."""
        yielded = seen = 0
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
            yield Target(full, display_path(full))
        return yielded, seen


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


def _walked(given: str, match: _Matcher) -> Iterator[tuple[str, list[str]]]:
    """(directory, its file names) for each directory a walk of ``given`` enters."""
    for root, dirs, names in os.walk(given):
        dirs[:] = sorted(
            d for d in dirs
            if not d.startswith(".") and not match.which(os.path.join(root, d), given, is_dir=True)
            and not os.path.isfile(os.path.join(root, d, "Chart.yaml"))
        )  # fmt: skip
        yield root, names


def _holds(directory: str, names: list[str] | None, name: str) -> bool:
    """Whether ``directory`` (whose file ``names`` may be known) holds the file ``name``."""
    return name in names if names is not None else os.path.isfile(os.path.join(directory, name))


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


def _count_lf(chunk: bytes) -> int:
    return chunk.count(b"\n")


_DOC_MARKER = re.compile(
    rb"(?:\r\n|[\r\n]|\xc2\x85|\xe2\x80[\xa8\xa9])(?=---(?:[ \t\r\n]|\xc2\x85|\xe2\x80[\xa8\xa9]|\Z))"
)


def _chunks(data: bytes, *, json_like: bool = False, unusual: bool | None = None) -> Iterator[tuple[bytes, int]]:
    """(chunk, number of lines before it) for each ``---``-separated part.

    A ``---`` line after any YAML line break (CR, NEL, U+2028 and U+2029 too) starts a
    document, except in JSON text, whose strings may hold such characters.
    """
    starts = [0]
    if json_like or not (textscan.unusual_breaks(data) if unusual is None else unusual):
        pos = data.find(b"\n---")
        while pos != -1:  # a "---" line (bytes.find is far faster than a MULTILINE regex)
            start = pos + 1
            if data[start + 3 : start + 4] in (b"", b" ", b"\t", b"\r", b"\n"):
                starts.append(start)
            pos = data.find(b"\n---", start)
        count: Callable[[bytes], int] = _count_lf
    else:
        starts += [m.end() for m in _DOC_MARKER.finditer(data)]
        count = textscan.count_breaks
    line = 0
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end]
        yield chunk, line
        line += count(chunk)


def _kubernetes_api(api: str) -> bool:
    """Whether an apiVersion is one of Kubernetes' own (core, apps, *.k8s.io ...)."""
    group = api.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def _needs_parse(
    chunk: bytes, kinds: KindTable, *, unusual_breaks: bool | None = None, also: AbstractSet[str] = frozenset()
) -> bool:
    """Whether a chunk might hold a pod, an object of a kind in ``also``, or something a full
    read would report.

    Only a document whose apiVersion and kind are certain without parsing it (`_identity`),
    name a kind without a pod, and could not hold one in a standard shape is left out.
    """
    return _parse_needed(chunk, kinds, _identity(chunk, unusual_breaks=unusual_breaks), also)


def _parse_needed(
    chunk: bytes, kinds: KindTable, found: tuple[str, str] | None, also: AbstractSet[str] = frozenset()
) -> bool:
    """`_needs_parse`, given the chunk's `_identity`."""
    if found is None:
        return True
    api, kind = found
    obj = {"apiVersion": api, "kind": kind}
    if kind.endswith("List") or kind in also or kinds.rule_for(obj) is not None:
        return True
    if kinds.served_problem(obj) is not None:
        return True
    if b"!" in chunk and (b"!!" in chunk or b"!<" in chunk):
        return True  # explicit tags: the full read checks that each value can hold its type
    if not kinds.detect_shapes or _kubernetes_api(api):
        return False  # Kubernetes' own kinds have known schemas: no pod hides in them
    return b"containers" in chunk or (b"\\" in chunk and _ESCAPE.search(chunk) is not None)


@dataclass(frozen=True, slots=True)
class Member:
    """A document read only as far as its kind, name and namespace (it carries no pod): enough to
    know which namespaces the input holds. ``line``/``column``: its ``namespace:`` key, or its
    ``metadata:`` key when it names no namespace."""

    api_version: str
    kind: str
    name: str | None
    namespace: str | None
    line: int
    column: int


_META_KEY = re.compile(rb"""^( +)(["']?)(name|namespace)\2[ \t]*:[ \t]*(.*?)[ \t]*(?:#.*)?\r?$""")
_PLAIN = re.compile(rb"""^(?:"([^"\\]*)"|'([^']*)'|([A-Za-z0-9][A-Za-z0-9_.:/-]*))$""")


def peek(chunk: bytes, line_offset: int, found: tuple[str, str] | None = None) -> Member | None:
    """The kind, name and namespace of a block-style document without parsing it; None when its
    identity is not certain (`_identity`) or its metadata is not written plainly enough (the
    caller then parses it). Reads only the lines of its ``metadata:`` mapping. ``found``: its
    `_identity`, when already known."""
    found = found or _identity(chunk)
    start = _metadata_line(chunk) if found is not None else None
    if found is None or start is None:
        return None
    start_line = chunk.count(b"\n", 0, start)
    keys = _metadata_keys(chunk, start, line_offset + start_line)
    if keys is None:
        return None
    ns, name = keys.get(b"namespace"), keys.get(b"name")
    at = (ns[1], ns[2]) if ns else (line_offset + start_line + 1, 1)
    api, kind = found
    return Member(api, kind, name[0] if name else None, ns[0] if ns else None, *at)


def _metadata_line(chunk: bytes) -> int | None:
    """Where the column-0 ``metadata:`` line starts, when nothing follows the key on it."""
    if chunk.startswith(b"metadata:"):
        pos = 0
    else:
        pos = chunk.find(b"\nmetadata:")
        if pos == -1:
            return None
        pos += 1
    end = chunk.find(b"\n", pos)
    if chunk[pos + len(b"metadata:") : end if end != -1 else len(chunk)].strip(b" \t\r"):
        return None  # metadata: {…} on one line, or a comment after it
    return pos


def _metadata_keys(chunk: bytes, pos: int, line: int) -> dict[bytes, tuple[str, int, int]] | None:
    """``name`` and ``namespace`` of the ``metadata:`` mapping whose line starts at ``pos`` (line
    ``line``, 0-based), with their 1-based line and column; None when one is not a plain string."""
    keys: dict[bytes, tuple[str, int, int]] = {}
    indent: int | None = None
    end = chunk.find(b"\n", pos)
    while end != -1:
        pos, line = end + 1, line + 1
        end = chunk.find(b"\n", pos)
        text = chunk[pos : end if end != -1 else len(chunk)]
        stripped = text.lstrip(b" ")
        if not stripped.strip() or stripped.startswith(b"#"):
            continue
        depth = len(text) - len(stripped)
        if depth == 0:
            break
        indent = depth if indent is None else indent
        m = _META_KEY.match(text) if depth == indent else None
        if m is None:
            continue
        value = _plain_value(m.group(4))
        if value is None:
            return None
        keys[m.group(3)] = (value, line + 1, depth + 1)
    return keys


def _plain_value(raw: bytes) -> str | None:
    """A metadata value as a string, when it is certainly one (else the caller parses the document)."""
    value = _PLAIN.match(raw)
    if value is None:
        return None  # an alias, a flow value, a template: read it properly
    text = next(g for g in value.groups() if g is not None).decode()
    if value.group(3) is not None and not kyaml.plain_is_string(text):
        return None  # namespace: n is a boolean to Kubernetes (YAML 1.1): read it properly
    return text


def _describe(value: object) -> str:
    from podsec.model.schema import describe

    return describe(value)


def _objects(
    data: Any, kinds: KindTable, prefix: str = "", at: Path = ()
) -> Iterator[tuple[Mapping[str, Any] | None, str, Path]]:
    """Objects in a document, expanding ``kind: *List``, with where each is in the document;
    (None, reason, path) for what cannot be one."""
    if _is_json_patch(data):  # a JSON Patch document (a list of operations): no object, passed over quietly
        return
    problem = _not_an_object(data)
    if problem is not None:
        yield None, f"{prefix}{problem}", at
        return
    if data["kind"].endswith("List") and isinstance(data.get("items"), list):
        for i, item in enumerate(data["items"]):
            yield from _objects(item, kinds, f"{prefix}items[{i}]: ", (*at, "items", i))
        return
    problem = kinds.served_problem(data)
    if problem is not None:
        yield None, f"{prefix}{ObjectRef.of(data)}: {problem}", at
        return
    yield data, "", at


def _not_an_object(data: Any) -> str | None:
    """Why a document is not a Kubernetes object (a mapping with a string apiVersion and kind), if it is not."""
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else _describe(data)
        return f"the document is {what}, not a Kubernetes object"
    kind, api = data.get("kind"), data.get("apiVersion")
    wrong = [(k, v) for k, v in (("apiVersion", api), ("kind", kind)) if v is not None and not isinstance(v, str)]
    if wrong:
        key, value = wrong[0]
        return f"{key}: expected a string, got {_describe(value)}"
    if not kind or not api:
        absent = " and ".join(k for k, v in (("apiVersion", api), ("kind", kind)) if not v)
        return f"not a Kubernetes object: no {absent}"
    return None


def _is_json_patch(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(op, dict) and "op" in op and "path" in op for op in data)
    )


@dataclass(slots=True)
class Counts:
    """What `read_objects` saw: documents with content, and which of them had errors."""

    documents: int = 0
    failed: set[int] = field(default_factory=set)


def _template(chunk: bytes) -> str | None:
    """The ``# Source: chart/templates/x.yaml`` comment helm template writes before each document."""
    for raw in chunk[:1024].splitlines():
        line = raw.strip()
        if line.startswith(b"# Source: "):
            return line[len(b"# Source: ") :].decode("utf-8", "replace").strip() or None
        if line and not line.startswith((b"#", b"---")):
            return None  # the document's content has begun
    return None


def read_objects(
    data: bytes,
    name: str,
    kinds: KindTable,
    *,
    every: bool = False,
    counts: Counts | None = None,
    also: AbstractSet[str] = frozenset(),
    members: bool = False,
) -> Iterator[Located | Member | InputError]:
    """Every object of one file's bytes that may carry a pod or is of a kind in ``also`` (``every``:
    every object), and every input error.

    Otherwise, documents whose column-0 kind carries no pod are only syntax-checked — and, with
    ``members``, peeked at for their kind, name and namespace (a `Member`).
    An empty file, or one of comments only, holds nothing and is not an error.
    """
    counts = counts if counts is not None else Counts()
    bad = _check_bytes(data, name)
    if bad is not None:
        counts.failed.add(0)
        yield bad
        return
    json_like = textscan.looks_like_json(data)
    unusual = textscan.unusual_breaks(data)
    start = 0
    for chunk, offset in _chunks(data, json_like=json_like, unusual=unusual):
        span, start = (start, start + len(chunk)), start + len(chunk)
        if json_like:
            chunk = textscan.normalize_json(chunk)
        found = None if every else _identity(chunk, unusual_breaks=unusual or json_like)
        if not every and not _parse_needed(chunk, kinds, found, also):
            member = peek(chunk, offset, found) if members else None
            if not members or member is not None:  # else not plain enough to peek at: parse it
                counts.documents += 1  # it names an apiVersion and a kind
                try:
                    kyaml.check_stream(chunk)
                except kyaml.YamlError as exc:
                    counts.failed.add(counts.documents)
                    yield _yaml_error(exc, chunk, name, offset)
                    continue
                if member is not None:
                    yield member
                continue
        yield from _parsed(chunk, offset, span, name, kinds, counts)


def _parsed(
    chunk: bytes, offset: int, span: tuple[int, int], name: str, kinds: KindTable, counts: Counts
) -> Iterator[Located | InputError]:
    """The objects of one parsed chunk (its documents counted), or its YAML error."""
    try:
        docs = kyaml.load_all(chunk)
    except kyaml.YamlError as exc:
        counts.documents += 1
        counts.failed.add(counts.documents)
        yield _yaml_error(exc, chunk, name, offset)
        return
    template = _template(chunk)
    for part, doc in enumerate(d for d in docs if d.data is not None):  # not empty documents ("---" twice)
        counts.documents += 1
        for obj, problem, at in _objects(doc.data, kinds):
            if obj is None:
                counts.failed.add(counts.documents)
                yield InputError(name, offset + doc.line, problem)
                continue
            line = _object_line(doc.data, obj, offset + doc.line, offset)
            yield Located(obj, name, line, offset, template, counts.documents, span, part, at)


def internal_error(
    name: str | None, line: int | None, exc: BaseException, *, debug: bool = False, during: str = "reading this file"
) -> InputError:
    """An unexpected exception while handling one file (or object), as an error of that file.

    The message says it is a podsec bug; with ``debug`` the error carries the traceback
    (shown on stderr by the command line, also when it comes from a worker process).
    """
    trace = None
    if debug:
        import traceback

        trace = "".join(traceback.format_exception(exc))
    what = type(exc).__name__
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    hint = "" if debug else "; run with --debug for the traceback"
    what += f": {detail}" if detail else ""
    message = f"internal error while {during}: {what} (a podsec bug: please report it{hint})"
    return InputError(name, line, message, debug=trace)


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


__all__ = [
    "Counts",
    "Exclude",
    "Located",
    "Member",
    "ObjectRef",
    "Target",
    "Walk",
    "discover",
    "has_helm_syntax",
    "internal_error",
    "missing",
    "read_objects",
    "read_target",
]
