"""Kustomize as repositories hold it: find kustomizations, render the top-level overlays with
``kubectl kustomize``, and point findings on the rendered output back at their sources.

- Kustomization files are kustomize's, never manifests; files a kustomization uses as patches
  are partial objects, never scanned on their own (`Plan`).
- A top-level overlay (a kustomization no other one in the scanned tree uses as a base, a
  resource or a component) is rendered (`render`) through a wrapper kustomization in a
  temporary directory that asks for ``buildMetadata: [originAnnotations]``, so every rendered
  object names the file it came from without the user's files being touched.
- `SourceMap` then moves each finding to the source file and line: the patch that sets the
  field when one does (strategic-merge or JSON 6902, in a file or inline), else the field in
  the resource file the object came from, else the mapping where a missing field belongs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from podsec import kyaml
from podsec.findings import Finding, InputError, ObjectResult, Suppressed
from podsec.model.paths import Path, PosDict, PosList, format_path
from podsec.sources.files import KUSTOMIZATION_FILES, MAX_FILE_BYTES, Target

TIMEOUT_SECONDS = 300
ORIGIN = "config.kubernetes.io/origin"
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@|github\.com/|gitlab\.com/|bitbucket\.org/)")


def kustomization_file(directory: str) -> str | None:
    for name in KUSTOMIZATION_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


@dataclass(frozen=True, slots=True)
class Patch:
    """One patch of a kustomization: a file, or text inline in the kustomization file."""

    file: str  # the patch file, or the kustomization file for an inline patch
    text: str | None  # inline text; None: read ``file``
    line: int = 0  # for inline text: the line before its first line, in ``file``
    column: int = 0  # for inline text: its indentation in ``file``
    target: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Kustomization:
    directory: str
    file: str
    component: bool = False
    children: list[str] = field(default_factory=list)  # kustomization directories used (bases, components)
    resources: list[str] = field(default_factory=list)  # resource files (absolute)
    patches: list[Patch] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # other files kustomize reads: configurations, … (absolute)


def _items(data: Mapping[str, Any], key: str) -> list[Any]:
    """The list under ``key`` (anything else kustomize itself rejects when it renders)."""
    value = data.get(key)
    return value if isinstance(value, list) else []


def _indent(lines: list[str], line: int) -> int:
    """The indentation of the 1-based line after ``line`` (the first line of a block scalar)."""
    if not 0 < line < len(lines):
        return 0
    return len(lines[line]) - len(lines[line].lstrip(" "))


def read(directory: str) -> Kustomization | InputError:
    """The kustomization in ``directory``: what it uses, and its patches."""
    kfile = kustomization_file(directory)
    if kfile is None:
        return InputError(directory, None, "no kustomization.yaml in this directory")
    try:
        with open(kfile, "rb") as fh:
            raw = fh.read()
        docs = kyaml.load_all(raw)
    except OSError as exc:
        return InputError(kfile, None, f"cannot read: {exc.strerror or exc}")
    except kyaml.YamlError as exc:
        return InputError(kfile, exc.line, f"invalid YAML: {exc.message}", exc.column)
    data = docs[0].data if docs else None
    if not isinstance(data, dict):
        return InputError(kfile, 1, "a kustomization must be a mapping")
    k = Kustomization(directory, kfile, component=data.get("kind") == "Component")
    for entry in (*_items(data, "resources"), *_items(data, "bases"), *_items(data, "components")):
        if not isinstance(entry, str) or _REMOTE.match(entry):
            continue
        full = os.path.normpath(os.path.join(directory, entry))
        if os.path.isdir(full):
            k.children.append(full)
        elif os.path.isfile(full):
            k.resources.append(os.path.abspath(full))
    k.patches = _patches(data, directory, os.path.abspath(kfile), raw.decode("utf-8", "replace").splitlines())
    k.inputs = _inputs(data, directory)
    return k


_INPUT_LISTS = ("configurations", "crds", "transformers", "generators", "validators")


def _generator_files(gen: Any) -> list[Any]:
    """The files a ConfigMap or Secret generator reads (``files`` as ``[key=]path``, ``envs``, ``env``)."""
    if not isinstance(gen, dict):
        return []
    files = [f.rpartition("=")[2] for f in _items(gen, "files") if isinstance(f, str)]
    return [*files, *_items(gen, "envs"), gen.get("env")]


def _inputs(data: Mapping[str, Any], directory: str) -> list[str]:
    """The files besides resources and patches that kustomize reads as its own input: transformer
    configurations, CRD and OpenAPI schemas, replacements, plugin configurations, generators'
    files and Helm values files (absolute paths). None of them is a manifest of its own."""
    names: list[Any] = [
        *(n for key in _INPUT_LISTS for n in _items(data, key)),
        *(r.get("path") for r in _items(data, "replacements") if isinstance(r, dict)),
        *(c.get("valuesFile") for c in _items(data, "helmCharts") if isinstance(c, dict)),
    ]
    openapi = data.get("openapi")
    if isinstance(openapi, dict):
        names.append(openapi.get("path"))
    for gen in (*_items(data, "configMapGenerator"), *_items(data, "secretGenerator")):
        names += _generator_files(gen)
    paths = (os.path.join(directory, n) for n in names if isinstance(n, str) and n and not _REMOTE.match(n))
    return [os.path.abspath(p) for p in paths if os.path.isfile(p)]


def _patches(data: Mapping[str, Any], directory: str, kfile: str, lines: list[str]) -> list[Patch]:
    """The patches of a kustomization (``patches``, ``patchesJson6902``, ``patchesStrategicMerge``),
    each a file or text inline in ``kfile`` (whose ``lines`` locate it)."""
    out = []
    for item in (*_items(data, "patches"), *_items(data, "patchesJson6902")):
        if not isinstance(item, dict):
            continue
        target = item.get("target") if isinstance(item.get("target"), dict) else None
        if isinstance(item.get("path"), str):
            out.append(Patch(os.path.abspath(os.path.join(directory, item["path"])), None, target=target))
        elif isinstance(item.get("patch"), str):
            line = item.lc.get("patch", (0, 0))[0] if isinstance(item, PosDict) else 0
            out.append(Patch(kfile, item["patch"], line, _indent(lines, line), target))
    smp = data.get("patchesStrategicMerge")
    for i, item in enumerate(_items(data, "patchesStrategicMerge")):
        if not isinstance(item, str):
            continue
        candidate = os.path.join(directory, item)
        if "\n" not in item and os.path.isfile(candidate):
            out.append(Patch(os.path.abspath(candidate), None))
        else:
            line = smp.lc[i][0] if isinstance(smp, PosList) else 0
            out.append(Patch(kfile, item, line, _indent(lines, line)))
    return out


@dataclass(slots=True)
class Plan:
    """What to do with the kustomizations under the scanned paths."""

    kustomizations: dict[str, Kustomization] = field(default_factory=dict)  # by absolute directory
    overlays: list[str] = field(default_factory=list)  # top-level overlays, as found (relative as given)
    inputs: set[str] = field(default_factory=set)  # patch files and other inputs (absolute): not manifests
    errors: list[InputError] = field(default_factory=list)

    def used_files(self, overlays: Iterable[str]) -> set[str]:
        """The local files rendering ``overlays`` reads: kustomization files, resources, patches and other inputs
        (absolute paths)."""
        seen: set[str] = set()
        files: set[str] = set()
        stack = [os.path.abspath(o) for o in overlays]
        while stack:
            d = stack.pop()
            if d in seen:
                continue
            seen.add(d)
            k = self.kustomizations.get(d)
            if k is None:
                continue
            files.update((os.path.abspath(k.file), *k.resources, *(p.file for p in k.patches), *k.inputs))
            stack.extend(os.path.abspath(c) for c in k.children)
        return files


def plan(directories: Iterable[tuple[str, str]]) -> Plan:
    """The kustomizations found in ``(directory, as given)`` pairs, walked already by the caller."""
    out = Plan()
    found: list[tuple[str, str]] = []
    for directory, shown in directories:
        k = read(directory)
        if isinstance(k, InputError):
            out.errors.append(k)
            continue
        out.kustomizations[os.path.abspath(directory)] = k
        found.append((os.path.abspath(directory), shown))
    _read_bases(out.kustomizations)
    used = {os.path.abspath(c) for k in out.kustomizations.values() for c in k.children}
    for full, shown in found:
        k = out.kustomizations[full]
        if full not in used and not k.component:
            out.overlays.append(shown)
    for k in out.kustomizations.values():
        out.inputs.update((*(p.file for p in k.patches if p.text is None), *k.inputs))
    return out


def _read_bases(kustomizations: dict[str, Kustomization]) -> None:
    """Add the kustomizations that those found use, also outside the scanned tree (for their patches)."""
    pending = [c for k in list(kustomizations.values()) for c in k.children]
    while pending:
        d = os.path.abspath(pending.pop())
        if d in kustomizations or kustomization_file(d) is None:
            continue
        k = read(d)
        if isinstance(k, Kustomization):
            kustomizations[d] = k
            pending.extend(k.children)


def find_kubectl() -> str | None:
    return shutil.which("kubectl")


def render(directory: str, known: Plan | None = None) -> Target | InputError:
    """``kubectl kustomize`` of ``directory`` with origin annotations, as a Target whose findings
    are moved to their source files."""
    name = f"{directory} (kustomize)"
    if not os.path.isdir(directory) or kustomization_file(directory) is None:
        return InputError(directory, None, "needs a directory holding a kustomization.yaml")
    kubectl = find_kubectl()
    if kubectl is None:
        return InputError(
            directory,
            None,
            "rendering Kustomize needs kubectl on the PATH (it runs `kubectl kustomize`); install kubectl, or "
            "render the directory yourself: kubectl kustomize DIR | podsec scan -",
        )
    with tempfile.TemporaryDirectory(prefix="podsec-kustomize-") as wrapper:
        rel = os.path.relpath(os.path.abspath(directory), wrapper)
        with open(os.path.join(wrapper, "kustomization.yaml"), "w", encoding="utf-8") as fh:
            fh.write(f"resources:\n- {_quote(rel)}\nbuildMetadata: [originAnnotations]\n")
        try:
            done = subprocess.run(
                [kubectl, "kustomize", wrapper], capture_output=True, timeout=TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return InputError(directory, None, f"kubectl kustomize failed: {exc}")
    if done.returncode != 0:
        text = _failure(done.stderr.decode("utf-8", "replace")) or f"exit code {done.returncode}"
        return InputError(directory, None, f"kubectl kustomize failed: {text.replace(wrapper, '<podsec wrapper>')}")
    if len(done.stdout) > MAX_FILE_BYTES:
        return InputError(directory, None, f"kustomize output too large (the limit is {MAX_FILE_BYTES:,} bytes)")
    tree = known if known is not None else plan([(directory, directory)])
    used = frozenset(tree.used_files([directory]))
    return Target(None, name, done.stdout, relocate=SourceMap(directory, wrapper, tree), sources=used)


# kubectl logs the failure through klog: `E1130 … run.go:72] "command failed" err="…"`, or, when the
# message spans lines, `err=<` then the lines indented by a tab, then ` >`
_KLOG_ERR = re.compile(r'err=(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|<\n(?P<block>.*?)\n\s*>\s*$)', re.S)


def _failure(stderr: str) -> str:
    """Kustomize's own message from kubectl's standard error, without klog's framing."""
    m = _KLOG_ERR.search(stderr)
    if m is None:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        return lines[-1].removeprefix("Error: ") if lines else ""
    if m.group("quoted") is not None:
        return re.sub(r"\\(.)", r"\1", m.group("quoted"))
    return " ".join(line.strip() for line in m.group("block").splitlines() if line.strip())


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


# --- source mapping ---------------------------------------------------------------------------

Selector = str | int | tuple[str, str]  # a key, an index, or ("name", value) for a named list item


def named(obj: Any, path: Path) -> tuple[Selector, ...]:
    """``path`` with list indices replaced by the item's name where the item has one, so it
    can be followed in a source where the list is ordered differently or partial (a patch)."""
    out: list[Selector] = []
    node = obj
    for part in path:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            item = node[part]
            name = item.get("name") if isinstance(item, dict) else None
            out.append(("name", name) if isinstance(name, str) else part)
            node = item
        elif isinstance(part, str) and isinstance(node, dict):
            out.append(part)
            node = node.get(part)
        else:
            out.append(part)
            node = None
    return tuple(out)


def find_exact(root: Any, path: Sequence[Selector]) -> tuple[int, int] | None:
    """The (line, column) of ``path`` in ``root`` when the whole path exists there."""
    node = root
    pos: tuple[int, int] | None = None
    for part in path:
        step = _step(node, part)
        if step is None:
            return None
        node, at = step
        pos = at if at is not None else pos
    return pos


def _step(node: Any, part: Selector) -> tuple[Any, tuple[int, int] | None] | None:
    """The child of ``node`` that ``part`` selects and its position, if known; None when there is none."""
    if isinstance(part, tuple):
        if not isinstance(node, list):
            return None
        index = next((i for i, item in enumerate(node) if isinstance(item, dict) and item.get("name") == part[1]), None)
        if index is None:
            return None
        part = index
    lc = getattr(node, "lc", None)
    if isinstance(part, int):
        if not isinstance(node, list) or not 0 <= part < len(node):
            return None
        return node[part], (lc[part] if lc is not None and part < len(lc) else None)
    if not isinstance(node, dict) or part not in node:
        return None
    return node[part], (lc.get(part) if lc is not None else None)


@dataclass(slots=True)
class _Source:
    """A document that may hold the field: a resource's document, or a patch."""

    file: str
    data: Any  # a PosDict (an object or a strategic-merge patch) or a PosList (JSON 6902 operations)
    line: int = 0  # added to positions (inline patches)
    column: int = 0

    def find(self, path: Path, by_name: tuple[Selector, ...]) -> tuple[int, int] | None:
        pos = self._json6902(path, by_name) if isinstance(self.data, list) else find_exact(self.data, by_name)
        if pos is None:
            return None
        return pos[0] + self.line, pos[1] + (self.column if self.line else 0)

    def _json6902(self, path: Path, by_name: tuple[Selector, ...]) -> tuple[int, int] | None:
        for op in reversed(self.data):
            if (
                not isinstance(op, dict)
                or op.get("op") not in ("add", "replace")
                or not isinstance(op.get("path"), str)
            ):
                continue
            pointer = _pointer(op["path"])
            if pointer is None or not _leads_to(pointer, path, by_name, op.get("value")):
                continue
            rest = by_name[len(pointer) :]
            if not rest:
                lc = getattr(op, "lc", {})
                return lc.get("value") or lc.get("path")
            found = find_exact(op.get("value"), rest)
            if found is not None:
                return found
        return None


def _leads_to(pointer: Path, path: Path, by_name: tuple[Selector, ...], value: object) -> bool:
    """Whether a JSON 6902 operation at ``pointer`` writes ``path`` (of the rendered object).

    Positions in the pointer were positions when the patch was applied, which later patches may
    have changed; ``-`` (append) is any position. So where the operation writes a named list item
    (a container), that item is followed by its name, wherever it is now.
    """
    if len(pointer) > len(path):
        return False
    name = value.get("name") if isinstance(value, dict) else None
    item = isinstance(name, str)
    for i, (mine, theirs) in enumerate(zip(pointer, path, strict=False)):
        moved = isinstance(theirs, int) and (mine == "-" or (item and i == len(pointer) - 1 and isinstance(mine, int)))
        if mine != theirs and not moved:
            return False
    if item and pointer and isinstance(path[len(pointer) - 1], int):
        return by_name[len(pointer) - 1] == ("name", name)
    return True


def _pointer(text: str) -> Path | None:
    if not text.startswith("/"):
        return None
    parts: list[str | int] = []
    for raw in text[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        parts.append(int(part) if part.isdigit() else part)
    return tuple(parts)


def _matches(pattern: object, value: str | None) -> bool:
    if pattern is None:
        return True
    if not isinstance(pattern, str) or value is None:
        return False
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:
        return pattern == value


# one requirement of a label selector: key, !key, key=v, key==v, key!=v, key in (a,b), key notin (a,b)
_REQUIREMENT = re.compile(
    r"\s*(?P<not>!?)\s*(?P<key>[\w./-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[\w./-]*)|\s(?P<set>in|notin)\s*\((?P<values>[^)]*)\))?\s*(?:,|$)"
)


def _selects(selector: object, labels: Mapping[str, Any]) -> bool:
    """Whether a label (or annotation) selector selects an object with these ``labels``; a
    selector podsec cannot read selects everything (a patch considered, never one missed)."""
    if not isinstance(selector, str) or not selector.strip():
        return True
    pos = 0
    while pos < len(selector):
        m = _REQUIREMENT.match(selector, pos)
        if m is None or m.end() == pos:
            return True
        pos = m.end()
        key, have = m["key"], labels.get(m["key"])
        value = None if have is None else str(have)
        if m["op"]:
            ok = (value == m["value"]) == (m["op"] != "!=")
        elif m["set"]:
            chosen = {v.strip() for v in m["values"].split(",")}
            ok = (value in chosen) == (m["set"] == "in")
        else:
            ok = (key in labels) != bool(m["not"])
        if not ok:
            return False
    return True


class SourceMap:
    """Moves findings on one overlay's rendered output to the files and lines they came from."""

    def __init__(self, overlay: str, wrapper: str, tree: Plan) -> None:
        self.overlay = overlay
        self.wrapper = wrapper
        self.tree = tree
        self.template = _shown(kustomization_file(overlay) or overlay)
        self._files: dict[str, list[Any]] = {}

    def _docs(self, path: str) -> list[Any]:
        if path not in self._files:
            docs: list[Any] = []
            try:
                with open(path, "rb") as fh:
                    docs = [d.data for d in kyaml.load_all(fh.read()) if d.data is not None]
            except (OSError, kyaml.YamlError):
                pass
            self._files[path] = docs
        return self._files[path]

    def _origin(self, obj: Mapping[str, Any]) -> tuple[str, Any] | None:
        meta = obj.get("metadata")
        notes = meta.get("annotations") if isinstance(meta, dict) else None
        origin = notes.get(ORIGIN) if isinstance(notes, dict) else None
        if not isinstance(origin, str):
            return None
        fields = dict(line.split(":", 1) for line in origin.splitlines() if ":" in line)
        if fields.get("repo", "").strip() or not fields.get("path", "").strip():
            return None  # a remote resource: no local file to point at
        path = os.path.normpath(os.path.join(self.wrapper, fields["path"].strip()))
        kind, name = obj.get("kind"), meta.get("name") if isinstance(meta, dict) else None
        same_kind = [d for d in self._docs(path) if isinstance(d, dict) and d.get("kind") == kind]
        doc = _pick(same_kind, name if isinstance(name, str) else None)
        return (path, doc) if doc is not None else None

    def _patches(self, obj: Mapping[str, Any], source: Any) -> list[_Source]:
        """Patches that apply to ``obj``, the one applied last first."""
        out: list[_Source] = []
        order: list[str] = []
        stack = [os.path.abspath(self.overlay)]
        while stack:  # the overlay first, then what it uses (patches in outer layers win)
            d = stack.pop(0)
            if d in order:
                continue
            order.append(d)
            k = self.tree.kustomizations.get(d)
            if k is not None:
                stack.extend(os.path.abspath(c) for c in k.children)
        for d in order:
            k = self.tree.kustomizations.get(d)
            for patch in reversed(k.patches if k else []):
                out.extend(self._load_patch(patch, obj, source))
        return out

    def _load_patch(self, patch: Patch, obj: Mapping[str, Any], source: Any) -> list[_Source]:
        if patch.text is not None:
            try:
                docs = [d.data for d in kyaml.load_all(patch.text.encode()) if d.data is not None]
            except kyaml.YamlError:
                return []
            line, column = patch.line, patch.column
        else:
            docs, line, column = self._docs(patch.file), 0, 0
        names = {n for n in (_name(obj), _name(source)) if n}
        # the object as rendered, or as its resource file has it (before later layers renamed,
        # moved or labelled it): a patch may have been applied to either
        versions = [obj, *([source] if isinstance(source, dict) else [])]
        out = []
        for doc in docs:
            if isinstance(doc, list):  # JSON 6902 operations: the target says which objects
                target = patch.target
            elif isinstance(doc, dict):
                target = patch.target or {"kind": doc.get("kind"), "name": _name(doc)}
            else:
                continue
            if target is not None and any(_targets(target, v, names) for v in versions):
                out.append(_Source(patch.file, doc, line, column))
        return out

    def __call__(self, obj: Mapping[str, Any], result: ObjectResult) -> ObjectResult:
        found = self._origin(obj)
        if found is None:
            return replace(
                result,
                findings=tuple(replace(f, template=self.template) for f in result.findings),
                suppressed=tuple(
                    replace(s, finding=replace(s.finding, template=self.template)) for s in result.suppressed
                ),
            )
        path, doc = found
        shown = _shown(path)
        sources = [_Source(path, doc)]
        patches = self._patches(obj, doc)
        first = next(iter(getattr(doc, "lc", {}).values()), (1, 1))
        object_line = first[0]

        def move(f: Finding) -> Finding:
            field_path = f.field
            by_name = named(obj, field_path)
            exact = f.location == "field"
            if exact:
                for src in patches + sources:
                    pos = src.find(field_path, by_name)
                    if pos is not None:
                        return replace(f, file=_shown(src.file), line=pos[0], column=pos[1], template=self.template)
            for n in range(len(field_path) - (1 if exact else 0), 0, -1):
                for src in sources + patches:  # where a missing field belongs: the resource itself first
                    pos = src.find(field_path[:n], by_name[:n])
                    if pos is not None:
                        return replace(
                            f, file=_shown(src.file), line=pos[0], column=pos[1], location="parent",
                            template=self.template,
                        )  # fmt: skip
            return replace(f, file=shown, line=object_line, column=None, location="parent", template=self.template)

        return replace(
            result,
            file=shown,
            line=object_line,
            findings=tuple(move(f) for f in result.findings),
            suppressed=tuple(Suppressed(move(s.finding), s.exemption) for s in result.suppressed),
        )


def _name(obj: Any) -> str | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None


def _pick(docs: list[Any], name: str | None) -> Any:
    if not docs:
        return None
    exact = [d for d in docs if _name(d) == name]
    if exact:
        return exact[0]
    if name:  # namePrefix / nameSuffix
        inside = [d for d in docs if (n := _name(d)) and n in name]
        if inside:
            return max(inside, key=lambda d: len(_name(d) or ""))
    return docs[0] if len(docs) == 1 else None


def _targets(target: Mapping[str, Any], obj: Mapping[str, Any], names: set[str]) -> bool:
    """Whether a patch's ``target`` selects ``obj`` (whose name was one of ``names`` on the way):
    group, version, kind, namespace and name are anchored regular expressions, as in kustomize."""
    meta, api = obj.get("metadata"), obj.get("apiVersion")
    meta = meta if isinstance(meta, dict) else {}
    group, _, version = api.rpartition("/") if isinstance(api, str) else ("", "", "")
    plain = {"group": group, "version": version, "kind": obj.get("kind"), "namespace": meta.get("namespace")}
    for key, value in plain.items():
        if target.get(key) is not None and not _matches(target[key], value if isinstance(value, str) else ""):
            return False
    if target.get("name") is not None and not any(_matches(target.get("name"), n) for n in names):
        return False
    return all(
        _selects(target.get(f"{kind}Selector"), found if isinstance(found := meta.get(f"{kind}s"), dict) else {})
        for kind in ("label", "annotation")
    )


__all__ = ["Plan", "SourceMap", "find_kubectl", "format_path", "named", "plan", "read", "render"]
