"""Loading Rego modules: files and directories, syntax detection (v0/v1), rules and METADATA."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from podsec.rego.engine import RegoError, check_syntax

RULES = ("deny", "violation", "warn")
"""Rule names that produce findings (conftest and Gatekeeper conventions)."""

Syntax = Literal["auto", "v0", "v1"]

_PACKAGE = re.compile(r"^package\s+([\w.\"\[\]-]+)", re.MULTILINE)
_RULE_HEAD = re.compile(r"^(deny|violation|warn)\b", re.MULTILINE)
_V0_BODY = re.compile(
    r"^\s*[\w.]+\s*(\[[^\]\n]*\])?\s*(:?=\s*[^{\n]+)?\{\s*$|^\s*[\w.]+\s*\[[^\]\n]*\]\s*\{", re.MULTILINE
)
_V1_WORDS = re.compile(r"(\bif\s*\{|\bcontains\b|^import\s+rego\.v1\b)", re.MULTILINE)
_FUTURE = re.compile(r"^import\s+future\.keywords", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Metadata:
    """The OPA ``# METADATA`` annotations podsec uses."""

    title: str | None = None
    description: str | None = None
    id: str | None = None
    severity: str | None = None
    remediation: str | None = None
    related: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    text: str
    package: str
    v0: bool
    rules: tuple[str, ...]  # the finding rules it defines
    metadata: Mapping[str, Metadata] = field(default_factory=dict)  # rule name ("" = package) -> metadata


def detect_syntax(text: str) -> Literal["v0", "v1"] | None:
    """v0 or v1 from the module's own words; None when it does not say."""
    if re.search(r"^import\s+rego\.v1\b", text, re.MULTILINE):
        return "v1"
    if _FUTURE.search(text):
        return "v0"
    if _V1_WORDS.search(text):
        return "v1"
    if _V0_BODY.search(text):
        return "v0"
    return None


def _metadata_blocks(text: str) -> Iterable[tuple[str, dict[str, Any]]]:
    """(what it annotates: a rule name, or "" for the package, parsed YAML) per METADATA block."""
    from podsec import kyaml

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "# METADATA":
            i += 1
            continue
        body = []
        i += 1
        while i < len(lines) and lines[i].lstrip().startswith("#"):
            stripped = lines[i].lstrip()[1:]
            body.append(stripped[1:] if stripped.startswith(" ") else stripped)
            i += 1
        target = lines[i].strip() if i < len(lines) else ""
        try:
            docs = kyaml.load_all("\n".join(body).encode())
            data = docs[0].data if docs and isinstance(docs[0].data, dict) else {}
        except kyaml.YamlError:
            data = {}
        if target.startswith("package ") or data.get("scope") in ("package", "subpackages"):
            yield "", data
        else:
            name = re.match(r"[\w]+", target)
            yield (name.group(0) if name else ""), data


def _metadata(data: Mapping[str, Any]) -> Metadata:
    custom = data.get("custom") if isinstance(data.get("custom"), dict) else {}
    assert isinstance(custom, dict)

    def text(key: str) -> str | None:
        value = custom.get(key, data.get(key))
        return None if value is None else str(value)

    related = data.get("related_resources") or []
    refs = tuple(str(r.get("ref")) if isinstance(r, dict) else str(r) for r in related if r)
    return Metadata(
        title=text("title"),
        description=text("description"),
        id=text("id"),
        severity=text("severity"),
        remediation=text("remediation"),
        related=refs,
    )


def parse_module(path: str, text: str, syntax: Syntax = "auto") -> Module:
    """Read one module; raises RegoError (with file, line, column) when it does not compile."""
    package = _PACKAGE.search(text)
    if package is None:
        raise RegoError("no package declaration", path, 1, 1)
    if syntax == "auto":
        detected = detect_syntax(text)
        if detected is None:  # nothing tells: whichever parses, v1 first
            try:
                check_syntax(path, text, v0=False)
                detected = "v1"
            except RegoError:
                detected = "v0"
        syntax = detected
    v0 = syntax == "v0"
    check_syntax(path, text, v0)
    metadata = {name: _metadata(data) for name, data in _metadata_blocks(text)}
    rules = tuple(dict.fromkeys(_RULE_HEAD.findall(text)))
    return Module(path, text, package.group(1), v0, rules, metadata)


def policy_files(paths: Iterable[str]) -> list[str]:
    """The ``.rego`` files named, or found (recursively, sorted) in the directories named;
    ``*_test.rego`` files (OPA unit tests) are left out."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found += [
                    os.path.join(root, f) for f in sorted(files) if f.endswith(".rego") and not f.endswith("_test.rego")
                ]
        elif os.path.isfile(path):
            found.append(path)
        else:
            raise RegoError("no such policy file or directory", path)
    return found


def load_modules(paths: Iterable[str], syntax: Syntax = "auto") -> list[Module]:
    modules = []
    for path in policy_files(paths):
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise RegoError(f"cannot read: {exc.strerror or exc}", path) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RegoError("not UTF-8 text", path) from None
        modules.append(parse_module(path, text, syntax))
    return modules
