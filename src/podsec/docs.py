"""Check documentation, generated from check metadata (`podsec checks`, docs/checks/).

Every page shows the check's example run through podsec itself: the failing pod, the
finding podsec reports for it, and the fixed pod. Regenerate the committed pages with::

    python -m podsec.docs docs/checks

(the tests fail when they are stale, or when an example does not behave as documented).
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from collections.abc import Sequence

from podsec import catalog, engine, pipeline
from podsec.analysis.rules import BeyondRule, Scope
from podsec.checks import ALL_CHECKS, Check, CheckLevel, Platform, Rule
from podsec.evaluate import Context
from podsec.findings import Finding
from podsec.model.paths import format_path
from podsec.model.standards import Level, PolicyVersion, Profile, format_version
from podsec.model.workloads import BUILTIN_RULES, KindRule, KindTable

PSS_URL = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"
_LEVEL_TEXT = {
    CheckLevel.BASELINE: "Pod Security Standards **baseline** (and so restricted and hardened)",
    CheckLevel.RESTRICTED: "Pod Security Standards **restricted** (and so hardened)",
    CheckLevel.HARDENED: "podsec **hardened**",
    CheckLevel.GOVERNANCE: "every profile (exemption governance)",
    CheckLevel.POLICY: "your Rego policies (`--policy`), in every profile",
    CheckLevel.RBAC: "`podsec rbac` (not a scan profile)",
}
_SCOPE_TEXT = {
    Scope.NAMESPACE: "each namespace the input names (`podsec scan`, across all its files)",
    Scope.OBJECT: "the objects it is about, as `podsec scan` reads them",
    Scope.RBAC: "the roles, bindings and namespaces `podsec rbac` reads",
}
_PLATFORM_TEXT = {
    Platform.ANY: "every pod",
    Platform.LINUX: "Linux pods (skipped for `spec.os.name: windows`)",
    Platform.WINDOWS: "Windows pods (skipped for `spec.os.name: linux`)",
}


def example_pod(spec: str) -> str:
    """A whole Pod manifest around a pod-spec snippet (a snippet may start with a metadata: block)."""
    meta = "metadata:\n  name: example\n"
    if spec.startswith("metadata:\n"):
        head, _, spec = spec.partition("\nspec:\n") if "\nspec:\n" in spec else (spec, "", "")
        meta = "metadata:\n  name: example\n" + head.removeprefix("metadata:\n")
    body = "".join(f"  {line}\n" if line else "\n" for line in spec.splitlines())
    return f"apiVersion: v1\nkind: Pod\n{meta}spec:\n{body}"


def example_manifest(check: Rule, text: str) -> str:
    """The manifest of an example: as written for checks not about pods, else a Pod around the spec."""
    return text if check.example is not None and check.example.whole else example_pod(text)


def run_example(check: Check | BeyondRule, manifest: str) -> list[Finding]:
    """The findings ``check`` alone reports on ``manifest`` (at the newest version)."""
    if isinstance(check, BeyondRule) and check.scope is Scope.RBAC:
        return _run_rbac_example(check, manifest)
    if isinstance(check, BeyondRule):
        from podsec import beyond

        policy = engine.select(Profile.HARDENED, PolicyVersion(None), checks=(), rules=[check], enable=[check.id])
        context = Context(policy, KindTable())
        results = beyond.complete([pipeline.scan_bytes(manifest.encode(), "example.yaml", context)], context)
        return [f for r in results for obj in r.objects for f in obj.findings if f.check.id == check.id]
    if check.level is CheckLevel.HARDENED:
        policy = engine.select(Profile.HARDENED, PolicyVersion(None), checks=[check], rules=(), enable=[check.id])
    else:
        level = Level.BASELINE if check.level is CheckLevel.BASELINE else Level.RESTRICTED
        policy = engine.select(level, PolicyVersion(None), checks=[check])
    result = pipeline.scan_bytes(manifest.encode(), "example.yaml", Context(policy, KindTable()))
    assert not result.errors and len(result.objects) == 1, result
    return [f for f in result.objects[0].findings if f.check.id == check.id]


def _run_rbac_example(check: BeyondRule, manifest: str) -> list[Finding]:
    from podsec import inventory, rbac_report
    from podsec.analysis import rbac

    inv = inventory.from_bytes(manifest.encode(), "example.yaml")
    inv.add_defaults()
    access = rbac.analyze(inv.authorizer(), inv.enforce_levels(), version=engine.NEWEST)
    context = Context(engine.select(Profile.HARDENED, PolicyVersion(None)), KindTable())
    results = rbac_report.findings(inv, access, context)
    return [f for r in results for obj in r.objects for f in obj.findings if f.check.id == check.id]


def severity_text(check: Rule, checks: Sequence[Check] = ALL_CHECKS) -> str:
    """Which severity a finding of ``check`` gets, and when another applies."""
    by_id = {c.id: c for c in checks}
    text = f"`{check.severity.value}`"
    overrides = check.overrides if isinstance(check, Check) else ()
    higher = [o for o in (by_id[o] for o in overrides if o in by_id) if o.severity.rank < check.severity.rank]
    if higher:
        text += "; " + "; ".join(
            f"`{o.severity.value}` for a violation `{o.id}` also reports (it replaces that check in this profile, "
            "and severity never drops as the profile gets stricter)"
            for o in higher
        )
    for c in (c for c in checks if check.id in c.overrides):
        text += (
            f"; under restricted and hardened `{c.id}` reports these violations in its place, "
            f"at `{check.severity.value}` when that is higher than its own `{c.severity.value}`"
        )
    return text + " (`checks.severity` in the configuration changes it)"


def _applies(check: Rule) -> str:
    return _SCOPE_TEXT[check.scope] if isinstance(check, BeyondRule) else _PLATFORM_TEXT[check.platform]


def _facts(check: Rule) -> list[tuple[str, str]]:
    """The table at the top of a page: profile, severity, what it applies to, versions, options."""
    pss = check.level.is_pss
    applies = "every pod, with Pod Security Admission's own exceptions (Windows, user namespaces)"
    rows = [
        ("Profile", _LEVEL_TEXT[check.level]),
        ("Severity", severity_text(check)),
        ("Applies to", applies if pss else _applies(check)),
    ]
    if pss and isinstance(check, Check):
        replaces = f" (replaces `{'`, `'.join(check.overrides)}`)" if check.overrides else ""
        rows.append(("Policy versions", f"{format_version(check.since)} and later{replaces}"))
    if check.level is CheckLevel.HARDENED:
        rows.append(("On by default", "yes" if check.default_on else "no (enable it in `checks.enable`)"))
    if isinstance(check, Check) and check.options:
        rows.append(("Options", ", ".join(f"`{k}` (default `{v}`)" for k, v in check.options.items())))
    if check.fields:
        rows.append(("Fields", ", ".join(f"`{f}`" for f in check.fields)))
    return rows


def _example(check: Check | BeyondRule) -> list[str]:
    """The failing example, what podsec reports for it, and the fixed example."""
    if check.example is None:
        return []
    failing = example_manifest(check, check.example.failing)
    found = run_example(check, failing)
    reports = "".join(f"example.yaml:{f.line}:{f.column} {f.check.id}: {f.message}\n" for f in found)
    return [
        f"## Failing example\n\n```yaml\n{failing}```\n",
        f"podsec reports:\n\n```\n{reports}```\n",
        f"## Fixed\n\n```yaml\n{example_manifest(check, check.example.fixed)}```\n",
    ]


def page(check: Rule) -> str:
    """A check's documentation page (docs/checks/ID.md, `podsec checks show ID`)."""
    out = [f"# `{check.id}`: {check.title}\n"]
    out.append("| | |\n| --- | --- |\n" + "".join(f"| {k} | {v} |\n" for k, v in _facts(check)))
    out.append(f"## Why it matters\n\n{check.rationale}\n")
    if isinstance(check, Check | BeyondRule):
        out += _example(check)
    out.append(f"## Remediation\n\n{check.remediation}\n")
    refs = [PSS_URL, *check.references] if check.level.is_pss else list(check.references)
    if refs:
        out.append("## References\n\n" + "".join(f"- {r}\n" for r in refs))
    return "\n".join(out)


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def terminal(markdown: str, *, color: bool = False, width: int = 100) -> str:
    """A generated page rendered for a terminal: no markdown syntax, wrapped prose, code indented."""

    def inline(text: str) -> str:
        text = _LINK.sub(lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", text)
        text = _BOLD.sub(lambda m: f"\x1b[1m{m.group(1)}\x1b[0m" if color else m.group(1), text)
        return _CODE.sub(lambda m: f"\x1b[36m{m.group(1)}\x1b[0m" if color else m.group(1), text)

    out: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            out.append("    " + line)
        elif line.startswith("#"):
            title = inline(line.lstrip("#").strip())
            out.append(f"\x1b[1m{title}\x1b[0m" if color else title)
            if line.startswith("# "):
                out.append("=" * min(width, len(_strip(title))))
        elif line.startswith("| ---") or line == "| | |":
            continue
        elif line.startswith("| "):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            label, value = cells[0], " | ".join(cells[1:])
            out.extend(
                textwrap.wrap(inline(value), width, initial_indent=f"{label + ':':<17}", subsequent_indent=" " * 17)
            )
        elif line.startswith("- "):
            out.extend(textwrap.wrap(inline(line[2:]), width, initial_indent="  - ", subsequent_indent="    "))
        elif line.strip():
            out.extend(textwrap.wrap(inline(line), width))
        else:
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _strip(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def index() -> str:
    lines = [
        "# podsec checks\n",
        "Generated from check metadata by `python -m podsec.docs docs/checks`; do not edit by hand.\n",
        "| id | profile | severity | title |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| [`{c.id}`]({c.id}.md) | {c.level.value} | {c.severity.value} | {c.title} |" for c in catalog.BUILTIN]
    return "\n".join(lines) + "\n"


def _pss_table() -> str:
    rows = [
        f"| [`{c.id}`](docs/checks/{c.id}.md) | {c.level.value} | {c.severity.value} | "
        f"{format_version(c.revisions[0][0])} | {c.title} |"
        for c in ALL_CHECKS
        if c.level.is_pss
    ]
    return "\n".join(["| check | level | severity | since | title |", "| --- | --- | --- | --- | --- |", *rows])


def _hardened_table() -> str:
    rows = [
        f"| [`{c.id}`](docs/checks/{c.id}.md) | {c.severity.value} | {c.platform.value} | "
        f"{c.title}{'' if c.default_on else ' (off by default)'} |"
        for c in ALL_CHECKS
        if c.level is CheckLevel.HARDENED  # the rules beyond the pod have their own README sections
    ]
    return "\n".join(["| check | severity | platform | title |", "| --- | --- | --- | --- |", *rows])


def _where(rule: KindRule) -> str:
    if rule.argo:
        where = "spec.workflowSpec.templates" if rule.kind == "CronWorkflow" else "spec.templates"
        return f"each template of `{where}` that runs containers (Argo Workflows)"
    if rule.template is not None:
        return f"the pod template at `{format_path(rule.template)}`"
    if rule.spec is not None:
        return f"the pod spec at `{format_path(rule.spec)}`"
    return "the object itself"


def _kinds_table() -> str:
    rows = []
    for rule in BUILTIN_RULES:
        groups = ", ".join(f"`{g}`" if g else "core" for g in sorted(rule.groups - rule.legacy))
        legacy = ", ".join(f"`{g}`" if g else "core" for g in sorted(rule.legacy))
        groups += f" (and {legacy} in old manifests)" if legacy else ""
        rows.append(f"| {rule.kind} | {groups} | `{rule.resource}` | {_where(rule)} |")
    header = ["| kind | API groups | resource (the webhook registers for it) | the pod |", "| --- | --- | --- | --- |"]
    return "\n".join([*header, *rows])


README_TABLES = {"pss-checks": _pss_table, "hardened-checks": _hardened_table, "kinds": _kinds_table}
_BLOCK = re.compile(r"(<!-- generated: ([a-z-]+)[^>]*-->\n)(.*?)(\n<!-- end of generated \2 -->)", re.S)


def update_readme(text: str) -> str:
    """``text`` with every generated table (between its markers) as the registry makes it now."""
    return _BLOCK.sub(lambda m: m.group(1) + README_TABLES[m.group(2)]() + m.group(4), text)


def pages() -> dict[str, str]:
    """File name -> content, for every page of docs/checks/."""
    return {"README.md": index(), **{f"{c.id}.md": page(c) for c in catalog.BUILTIN}}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m podsec.docs DIR`` writes the check pages; ``--readme FILE`` updates its generated tables."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--readme":
        with open(args[1], encoding="utf-8") as fh:
            text = fh.read()
        with open(args[1], "w", encoding="utf-8") as fh:
            fh.write(update_readme(text))
        return 0
    if len(args) != 1:
        print("usage: python -m podsec.docs DIR | --readme README.md", file=sys.stderr)
        return 2
    os.makedirs(args[0], exist_ok=True)
    for name, text in pages().items():
        with open(os.path.join(args[0], name), "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
