"""The ``.podsec.yaml`` configuration file: loading and validation.

Keys (all optional)::

    profile: hardened              # baseline | restricted | hardened
    pssVersion: latest             # latest | v1.N
    latestIs: v1.37                # evaluate "latest" as this version
    failOn: low                    # lowest severity that makes the exit code 1, or none
    exclude: ["charts/"]           # .gitignore-style patterns, relative to this file's directory
    select: [baseline, readOnlyRootFilesystem]   # only these checks (ids or level names)
    ignore: [hostPorts]            # never these (ids or level names)
    baseline: podsec-baseline.yaml # accepted findings (podsec scan --update-baseline)
    kustomize: auto                # auto | off: render top-level kustomizations with kubectl
    checks:
      disable: [userNamespace]     # never run these
      enable: [runAsUserMinimum]   # run these off-by-default checks (hardened)
      severity: {readOnlyRootFilesystem: low}
      options: {runAsUserMinimum: {minimum: 10000}}
    annotationExemptions: true     # false: ignore podsec.io/exempt annotations
    exemptions:                    # see podsec.exemptions
      - checks: [readOnlyRootFilesystem]
        namespace: legacy-*        # namespace, kind, name, container, image: globs
        reason: writes to /var/cache (OPS-123)
        until: 2027-03-31
    detectPodShapes: true          # false: ignore kinds podsec does not know, even with a pod inside
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from podsec import catalog, engine
from podsec.checks import Rule, Severity
from podsec.exemptions import Exemption, ExemptionError, from_config
from podsec.model.paths import Path
from podsec.model.standards import SCAN_PROFILES, PolicyVersion, Profile, Version
from podsec.model.workloads import KindRule, group_of

DEFAULT_FILE = ".podsec.yaml"
_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class ConfigError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Config:
    path: str | None = None
    profile: Profile | None = None
    pss_version: PolicyVersion | None = None
    latest_is: Version | None = None
    exclude: tuple[str, ...] = ()
    kinds: tuple[KindRule, ...] = field(default=())
    fail_on: Severity | Literal["none"] | None = None  # None: not set
    select: tuple[str, ...] | None = None  # check ids or level names; None: not set
    ignore: tuple[str, ...] = ()
    baseline: str | None = None  # the baseline file, relative to the working directory
    kustomize: str | None = None  # auto | off
    enable: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    options: Mapping[str, Mapping[str, int | str]] = field(default_factory=dict)
    exemptions: tuple[Exemption, ...] = ()
    annotation_exemptions: bool = True
    policies: tuple[str, ...] = ()  # Rego files or directories
    rego_syntax: str | None = None  # auto | v0 | v1
    policy_scope: str | None = None  # pods | all
    mentioned_ids: tuple[tuple[str, str], ...] = ()  # (where, id) of every check id it names, for `verify`
    webhook: Any = None  # the raw webhook: section, read by podsec.admission.settings
    notes: tuple[str, ...] = ()  # how it was chosen, where that needs saying (paths it is not the nearest for)
    detect_pod_shapes: bool = True  # evaluate unknown kinds that hold a pod in a standard shape


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


def _severity(value: object, where: str) -> Severity:
    try:
        return Severity(str(value))
    except ValueError:
        raise ConfigError(f"{where}: expected one of {', '.join(s.value for s in Severity)}") from None


class _Ids:
    """Check ids named in a config, with where, for `verify` (once the rules of the run are known:
    policies loaded at run time may define more)."""

    def __init__(self) -> None:
        self.mentioned: list[tuple[str, str]] = []

    def __call__(self, value: object, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of check ids")
        self.mentioned += [(where, v) for v in value]
        return tuple(value)


def unknown_id(config: Config, rules: Sequence[Rule]) -> str | None:
    """The one test of the check ids a configuration names (its ``checks:`` lists and severities, its
    exemptions) against ``rules`` (the built-in ones and the run's policies): the first unknown one,
    said as "where: message", or None. (Options are tested as they are read: only built-in checks
    have options, `engine.option_problem`.)"""
    known = {r.id for r in rules}
    for where, name in config.mentioned_ids:
        if name not in known:
            return f'{where}: no such check "{name}" (see `podsec checks`)'
    return None


def verify(config: Config, rules: Sequence[Rule]) -> None:
    """Raise ConfigError, naming the file, for the first check id the config names that ``rules`` lack."""
    problem = unknown_id(config, rules)
    if problem is not None:
        raise ConfigError(f"{config.path or 'config'}: {problem}")


def _checks(data: object, _ids: _Ids) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("checks: expected a mapping with enable, disable, severity and options")
    unknown = set(data) - {"enable", "disable", "severity", "options"}
    if unknown:
        raise ConfigError(f'checks: unknown key "{sorted(unknown)[0]}"')
    severity: dict[str, Severity] = {}
    for check, value in (data.get("severity") or {}).items():
        _ids([check], "checks.severity")
        severity[check] = _severity(value, f"checks.severity.{check}")
    options: dict[str, dict[str, int | str]] = {}
    raw_options = data.get("options") or {}
    if not isinstance(raw_options, dict):
        raise ConfigError("checks.options: expected a mapping of check id to options")
    for check, opts in raw_options.items():
        if check not in catalog.IDS:
            raise ConfigError(f'checks.options: no such check "{check}" (see `podsec checks`)')
        if not isinstance(opts, dict):
            raise ConfigError(f"checks.options.{check}: expected a mapping")
        problem = engine.option_problem(catalog.get(check), opts)
        if problem is not None:
            raise ConfigError(f"checks.options.{check}{problem[0]}: {problem[1]}")
        options[check] = dict(opts)
    return {
        "enable": _ids(data.get("enable"), "checks.enable"),
        "disable": _ids(data.get("disable"), "checks.disable"),
        "severity": severity,
        "options": options,
    }


def _policies(value: object, path: str | None) -> tuple[str, ...]:
    """Policy paths, relative to the config file's directory."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError("policies: expected a list of .rego files or directories")
    base = os.path.dirname(path) if path else ""
    return tuple(v if os.path.isabs(v) else os.path.join(base, v) for v in value)


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str | None:
    if key not in data:
        return None
    if data[key] not in allowed:
        raise ConfigError(f"{key}: expected one of {', '.join(allowed)}")
    return str(data[key])


def _names(data: dict[str, Any], key: str) -> tuple[str, ...] | None:
    """A list of check ids or level names (resolved once policies are loaded)."""
    if key not in data:
        return None
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key}: expected a list of check ids or level names (baseline, restricted, hardened)")
    return tuple(value)


def _relative_file(data: dict[str, Any], key: str, path: str | None) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected a file name")
    base = os.path.dirname(path) if path else ""
    return value if os.path.isabs(value) else os.path.join(base, value)


def _fail_on(data: dict[str, Any]) -> Severity | Literal["none"] | None:
    if "failOn" not in data:
        return None
    if data["failOn"] == "none":
        return "none"
    try:
        return Severity(str(data["failOn"]))
    except ValueError:
        names = ", ".join(s.value for s in Severity)
        raise ConfigError(f"failOn: expected one of {names}, or none") from None


KNOWN_KEYS = (
    "profile",
    "pssVersion",
    "latestIs",
    "failOn",
    "exclude",
    "select",
    "ignore",
    "baseline",
    "kustomize",
    "kinds",
    "checks",
    "exemptions",
    "annotationExemptions",
    "policies",
    "regoSyntax",
    "policyScope",
    "webhook",
    "detectPodShapes",
)


def parse(data: object, path: str | None = None, *, known: Sequence[Rule] | None = catalog.BUILTIN) -> Config:
    """A config from parsed YAML, its check ids tested against the ``known`` rules; ``known=None``
    leaves that test to `verify` (once the run's policies are loaded)."""
    config = _parse(data, path)
    problem = unknown_id(config, known) if known is not None else None
    if problem is not None:
        raise ConfigError(problem)
    return config


def _parse(data: object, path: str | None) -> Config:
    if data is None:
        return Config(path)
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping")
    _ids = _Ids()
    for key in data:
        if key not in KNOWN_KEYS:
            raise ConfigError(f'unknown key "{key}" (known keys: {", ".join(sorted(KNOWN_KEYS))})')
    profile, version, latest_is = _profile(data), _version(data, "pssVersion"), _latest_is(data)
    exclude = data.get("exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
        raise ConfigError("exclude: expected a list of glob patterns")
    kinds = data.get("kinds") or []
    if not isinstance(kinds, list):
        raise ConfigError("kinds: expected a list")
    annotation_exemptions = _flag(data, "annotationExemptions")
    detect_pod_shapes = _flag(data, "detectPodShapes")
    exempt = _exemptions(data.get("exemptions"), path, _ids)
    return Config(
        path,
        profile,
        version,
        latest_is,
        tuple(exclude),
        tuple(_kind(k, i) for i, k in enumerate(kinds)),
        fail_on=_fail_on(data),
        select=_names(data, "select"),
        ignore=_names(data, "ignore") or (),
        baseline=_relative_file(data, "baseline", path),
        kustomize=_choice(data, "kustomize", ("auto", "off")),
        exemptions=exempt,
        annotation_exemptions=annotation_exemptions,
        policies=_policies(data.get("policies"), path),
        rego_syntax=_choice(data, "regoSyntax", ("auto", "v0", "v1")),
        policy_scope=_choice(data, "policyScope", ("pods", "all")),
        **_checks(data.get("checks"), _ids),
        mentioned_ids=tuple(_ids.mentioned),
        webhook=data.get("webhook"),
        detect_pod_shapes=detect_pod_shapes,
    )


def _profile(data: dict[str, Any]) -> Profile | None:
    if "profile" not in data:
        return None
    try:
        profile = Profile(data["profile"])
    except ValueError:
        profile = None
    if profile not in SCAN_PROFILES:
        raise ConfigError('profile: expected "baseline", "restricted" or "hardened"')
    return profile


def _version(data: dict[str, Any], key: str) -> PolicyVersion | None:
    if key not in data:
        return None
    try:
        return PolicyVersion.parse(str(data[key]))
    except ValueError as exc:
        raise ConfigError(f"{key}: {exc}") from None


def _latest_is(data: dict[str, Any]) -> Version | None:
    parsed = _version(data, "latestIs")
    if parsed is None:
        return None
    if parsed.minor is None:
        raise ConfigError("latestIs: needs an explicit version such as v1.33")
    return (1, parsed.minor)


def _flag(data: dict[str, Any], key: str) -> bool:
    """A true/false setting, true when not set."""
    value = data.get(key, True)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}: expected true or false")
    return value


def _exemptions(value: object, path: str | None, _ids: _Ids) -> tuple[Exemption, ...]:
    try:
        exempt = from_config(value, path or "config")
    except ExemptionError as exc:
        raise ConfigError(str(exc)) from None
    for e in exempt:
        _ids([c for c in e.checks if c != "*"], e.where.split(" ")[-1] + ".checks")
    return exempt


def find(start: str = ".") -> str | None:
    """The nearest ``.podsec.yaml`` from ``start`` (a directory, or a file's directory) upward.

    The search stops at the root of the git work tree that holds ``start`` (or at the file
    system's root outside one), as ruff and yamllint search. The path returned is relative
    when ``start`` is.
    """
    here = start if os.path.isdir(start) else os.path.dirname(start) or "."
    probe = os.path.abspath(here)
    while True:
        candidate = os.path.join(probe, DEFAULT_FILE)
        if os.path.isfile(candidate):
            return _shown(candidate)
        if os.path.exists(os.path.join(probe, ".git")):
            return None
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent


def _shown(path: str) -> str:
    """``path`` relative to the working directory when it lies inside it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def find_for(paths: Sequence[str]) -> tuple[str | None, tuple[str, ...]]:
    """The configuration for a scan of ``paths``, and notes naming the paths it is not the nearest for.

    Each path's own is its nearest ``.podsec.yaml`` (`find`; the working directory's for standard
    input). A run has one configuration: their own when they share it; otherwise the one nearest to
    the directory that holds them all if it is one of theirs (a repository's over a sub-directory's),
    else none — never one that no path would find on its own (above their git work trees).
    """
    own = {p: find(p if p != "-" and os.path.exists(p) else ".") for p in dict.fromkeys(paths or ["."])}
    chosen = set(own.values())
    if len(chosen) == 1:
        return chosen.pop(), ()
    dirs = [os.path.abspath(p if os.path.isdir(p) else os.path.dirname(p) or ".") for p in own if p != "-"]
    above = find(os.path.commonpath(dirs)) if dirs else None
    path = above if above in chosen else None
    return path, _not_used(own, path)


def _not_used(own: Mapping[str, str | None], path: str | None) -> tuple[str, ...]:
    """A note for each configuration file some path would find on its own, when the run uses ``path``."""
    missed: dict[str, list[str]] = {}  # configuration not used: the paths it is the nearest for
    for p, mine in own.items():
        if mine is not None and mine != path:
            missed.setdefault(mine, []).append(p)
    how = f"with {path}, not its own" if path else "without its configuration"
    return tuple(
        f"{ps[0]}{f' (and {len(ps) - 1} more)' if len(ps) > 1 else ''} is scanned {how} {mine} "
        "(a run has one configuration: scan it on its own, or pass --config)"
        for mine, ps in missed.items()
    )


def load(path: str | None, *, known: Sequence[Rule] | None = catalog.BUILTIN, paths: Sequence[str] = ()) -> Config:
    """Load ``path``, or, when it is None, the ``.podsec.yaml`` that `find_for` finds for ``paths``."""
    from podsec import kyaml

    notes: tuple[str, ...] = ()
    if path is None:
        path, notes = find_for(paths)
        if path is None:
            return Config(notes=notes)
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
        config = parse(docs[0].data if docs else None, path, known=known)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return replace(config, notes=notes) if notes else config
