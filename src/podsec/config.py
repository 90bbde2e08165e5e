"""The ``.podsec.yaml`` configuration file: loading and validation.

Keys (all optional)::

    profile: restricted            # baseline | restricted
    pssVersion: latest             # latest | v1.N
    latestIs: v1.37                # evaluate "latest" as this version
    exclude: ["charts/*"]          # glob patterns of paths to skip
    kinds:                         # extra kinds that carry a pod template
      - apiVersion: example.com/v1 # the API group is what matters; any version matches
        kind: MyWorkload
        podTemplate: spec.template # a PodTemplateSpec (metadata + spec) ...
      - apiVersion: example.com/v1
        kind: MyRunner
        podSpec: spec.runner       # ... or a bare PodSpec

An invalid file is a `ConfigError` naming the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podsec.model.paths import Path
from podsec.model.standards import Level, PolicyVersion, Version
from podsec.model.workloads import KindRule, group_of

DEFAULT_FILE = ".podsec.yaml"
_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class ConfigError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Config:
    path: str | None = None
    profile: Level | None = None
    pss_version: PolicyVersion | None = None
    latest_is: Version | None = None
    exclude: tuple[str, ...] = ()
    kinds: tuple[KindRule, ...] = field(default=())


def _path(text: object, where: str) -> Path:
    if not isinstance(text, str) or not text:
        raise ConfigError(f"{where}: expected a dotted field path such as spec.template")
    parts = text.split(".")
    if not all(_SEGMENT.match(p) for p in parts):
        raise ConfigError(f'{where}: "{text}" is not a dotted field path such as spec.template')
    return tuple(parts)


def _kind(entry: object, i: int) -> KindRule:
    where = f"kinds[{i}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with apiVersion, kind and podTemplate or podSpec")
    unknown = set(entry) - {"apiVersion", "kind", "podTemplate", "podSpec"}
    if unknown:
        raise ConfigError(f'{where}: unknown key "{sorted(unknown)[0]}"')
    kind, api = entry.get("kind"), entry.get("apiVersion")
    if not isinstance(kind, str) or not kind:
        raise ConfigError(f"{where}.kind: expected a kind name such as MyWorkload")
    group = group_of(api)
    if group is None:
        raise ConfigError(f"{where}.apiVersion: expected an apiVersion such as example.com/v1")
    if ("podTemplate" in entry) == ("podSpec" in entry):
        raise ConfigError(f"{where}: set exactly one of podTemplate and podSpec")
    if "podTemplate" in entry:
        return KindRule(kind, frozenset({group}), template=_path(entry["podTemplate"], f"{where}.podTemplate"))
    return KindRule(kind, frozenset({group}), spec=_path(entry["podSpec"], f"{where}.podSpec"))


def parse(data: object, path: str | None = None) -> Config:
    if data is None:
        return Config(path)
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping")
    known = {"profile", "pssVersion", "latestIs", "exclude", "kinds"}
    for key in data:
        if key not in known:
            raise ConfigError(f'unknown key "{key}" (known keys: {", ".join(sorted(known))})')
    profile = None
    if "profile" in data:
        try:
            profile = Level(data["profile"])
        except ValueError:
            raise ConfigError('profile: expected "baseline" or "restricted"') from None
        if profile is Level.PRIVILEGED:
            raise ConfigError('profile: expected "baseline" or "restricted"')
    version = latest_is = None
    try:
        if "pssVersion" in data:
            version = PolicyVersion.parse(str(data["pssVersion"]))
        if "latestIs" in data:
            parsed = PolicyVersion.parse(str(data["latestIs"]))
            if parsed.minor is None:
                raise ValueError("latestIs needs an explicit version such as v1.33")
            latest_is = (1, parsed.minor)
    except ValueError as exc:
        key = "latestIs" if "latestIs" in str(exc) or version is not None else "pssVersion"
        raise ConfigError(f"{key}: {exc}") from None
    exclude = data.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
        raise ConfigError("exclude: expected a list of glob patterns")
    kinds = data.get("kinds") or []
    if not isinstance(kinds, list):
        raise ConfigError("kinds: expected a list")
    return Config(path, profile, version, latest_is, tuple(exclude), tuple(_kind(k, i) for i, k in enumerate(kinds)))


def load(path: str | None) -> Config:
    """Load ``path``, or ``.podsec.yaml`` in the current directory when ``path`` is None."""
    from podsec.sources import kyaml

    if path is None:
        if not os.path.isfile(DEFAULT_FILE):
            return Config()
        path = DEFAULT_FILE
    try:
        with open(path, "rb") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        docs = kyaml.load_all(text)
    except kyaml.YamlError as exc:
        raise ConfigError(f"{path}:{exc.line}: invalid YAML: {exc.message}") from None
    if len(docs) > 1:
        raise ConfigError(f"{path}: expected one YAML document")
    try:
        return parse(docs[0].data if docs else None, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def plain(data: Mapping[str, Any]) -> dict[str, Any]:
    return dict(data)
