"""Rendered Helm output (``helm template``): from a finding to the ``values.yaml`` key it came from.

``helm template`` writes ``# Source: CHART/templates/FILE`` before each document; podsec names
that template in every finding. When the chart itself is on disk (``CHART/``, ``charts/CHART/``
or the working directory, beside the rendered file or the working directory), podsec reads the
template and looks for the line that renders the offending field: ``key: {{ .Values.a.b }}``,
``key:`` followed by ``{{ toYaml .Values.a | nindent N }}``, or ``toYaml .`` inside
``{{ with .Values.a }}``. The values key is then looked up in the chart's ``values.yaml``; the
finding gets ``values`` — the file, the key and its line (or that of the mapping the key belongs
in). This reads templates as text, without Go templates: where a template computes the value
in another way, nothing is claimed.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
from dataclasses import replace
from typing import Any

from podsec import kyaml
from podsec.findings import Finding, ObjectResult, Suppressed, ValuesRef

_VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)")
_WITH = re.compile(r"\{\{-?\s*with\s+\.Values((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)")
_TO_YAML_DOT = re.compile(r"toYaml\s+\.\s*[|}]|toYaml\s+\.\s*$")


def _chart_name(path: str) -> str | None:
    try:
        with open(os.path.join(path, "Chart.yaml"), "rb") as fh:
            docs = kyaml.load_all(fh.read())
    except (OSError, kyaml.YamlError):
        return None
    data = docs[0].data if docs else None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def find_chart(chart: str, near: str) -> str | None:
    """The directory of chart ``chart`` beside ``near`` or the working directory, if it is on disk."""
    return _find_chart(chart, os.path.abspath(near), os.getcwd())


@functools.lru_cache(maxsize=64)
def _find_chart(chart: str, near: str, cwd: str) -> str | None:
    for base in dict.fromkeys((near, cwd)):
        for candidate in (os.path.join(base, chart), os.path.join(base, "charts", chart), base):
            if os.path.isfile(os.path.join(candidate, "Chart.yaml")) and _chart_name(candidate) == chart:
                return _shown(os.path.normpath(candidate))
    return None


def _lines(path: str) -> tuple[str, ...]:
    return _read_lines(os.path.abspath(path))


@functools.lru_cache(maxsize=256)
def _read_lines(path: str) -> tuple[str, ...]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return tuple(fh.read().splitlines())
    except OSError:
        return ()


def _values(path: str) -> Any:
    return _read_values(os.path.abspath(path))


@functools.lru_cache(maxsize=16)
def _read_values(path: str) -> Any:
    try:
        with open(path, "rb") as fh:
            docs = kyaml.load_all(fh.read())
    except (OSError, kyaml.YamlError):
        return None
    return docs[0].data if docs else None


def _with_binding(lines: tuple[str, ...], at: int) -> str | None:
    for i in range(at, -1, -1):
        m = _WITH.search(lines[i])
        if m:
            return m.group(1)[1:]
    return None


def _actions(own: str, following: tuple[str, ...]) -> list[str]:
    """The template actions that may render a ``key:`` line's value: ``{{ … }}`` on the line itself,
    or else the ``{{ toYaml … }}`` lines that directly follow it (not the keys of a mapping the
    template writes itself, such as ``hostNetwork: {{ .Values.x }}`` under ``spec:``)."""
    if own:
        return [own] if own.startswith("{{") else []
    actions = itertools.takewhile(lambda t: t.startswith("{{"), (t.strip() for t in following))
    return [t for t in actions if "toYaml" in t]


def _refs(lines: tuple[str, ...], key: str) -> list[tuple[int, str]]:
    """(line index, values key) for each ``key:`` line of the template that renders a value."""
    found = []
    pattern = re.compile(rf"^\s*-?\s*{re.escape(key)}:\s*(.*)$")
    for i, line in enumerate(lines):
        m = pattern.match(line)
        if not m:
            continue
        for text in _actions(m.group(1).strip(), lines[i + 1 : i + 3]):
            ref = _VALUES_REF.search(text)
            if ref:
                found.append((i, ref.group(1)[1:]))
                break
            if _TO_YAML_DOT.search(text):
                bound = _with_binding(lines, i)
                if bound:
                    found.append((i, bound))
                break
    return found


def _pick(refs: list[tuple[int, str]], in_container: bool) -> str | None:
    if len(refs) == 1:
        return refs[0][1]
    podish = [r for _, r in refs if "pod" in r.lower()]
    other = [r for _, r in refs if "pod" not in r.lower()]
    chosen = other if in_container else podish
    return chosen[0] if len(chosen) == 1 else None


def _locate(values: Any, key: str) -> tuple[str, int | None] | None:
    """(the longest existing prefix of ``key``, its line) in the values document."""
    node, line, parts, found = values, None, key.split("."), []
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            break
        lc = getattr(node, "lc", None)
        line = lc.get(part, (line, 0))[0] if lc is not None else line
        node = node[part]
        found.append(part)
    return (".".join(found), line) if found else None


def values_ref(f: Finding, template: str, near: str) -> ValuesRef | None:
    """Where in ``values.yaml`` the field of ``f`` comes from, when the chart is on disk and says so."""
    chart, _, rest = template.partition("/")
    if not rest:
        return None
    chart_dir = find_chart(chart, near)
    path = f.field or None
    if chart_dir is None or not path:
        return None
    lines = _lines(os.path.join(chart_dir, rest))
    keys = [p for p in path if isinstance(p, str)]
    in_container = any(p in ("containers", "initContainers", "ephemeralContainers") for p in path)
    for depth in range(len(keys) - 1, -1, -1):
        ref = _pick(_refs(lines, keys[depth]), in_container)
        if ref is None:
            continue
        key = ".".join([ref, *keys[depth + 1 :]])
        values_file = os.path.join(chart_dir, "values.yaml")
        located = _locate(_values(values_file), key)
        if located is None:
            return ValuesRef(_shown(values_file), key, None)
        return ValuesRef(_shown(values_file), key, located[1])
    return None


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def annotate(result: ObjectResult, template: str, file: str | None) -> ObjectResult:
    """``result`` with ``values`` set on each finding whose value comes from the chart's values.yaml."""
    near = os.path.dirname(file) if file and file != "-" else "."
    if find_chart(template.partition("/")[0], near or ".") is None:
        return result

    def add(f: Finding) -> Finding:
        ref = values_ref(f, template, near or ".")
        return replace(f, values=ref) if ref is not None else f

    return replace(
        result,
        findings=tuple(add(f) for f in result.findings),
        suppressed=tuple(Suppressed(add(s.finding), s.exemption) for s in result.suppressed),
    )
