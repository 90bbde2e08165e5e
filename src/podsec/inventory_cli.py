"""``podsec rbac`` and ``podsec psp``: the commands that read the objects under their PATHs as an
inventory (`podsec.inventory`) and analyse it as a whole, beyond any one pod."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, TextIO

from podsec import __version__, engine, inventory, outputs
from podsec.checks import CheckLevel, Rule
from podsec.config import Config, verify
from podsec.evaluate import Context
from podsec.evaluation import fail_on, rules, selection
from podsec.findings import EXIT_CLEAN, EXIT_ERROR, FileResult, Summary
from podsec.model.standards import PolicyVersion, Profile, format_version
from podsec.model.workloads import KindTable
from podsec.reporters import RunInfo
from podsec.sources.files import KUSTOMIZATION_FILES, Exclude, Walk

if TYPE_CHECKING:
    from podsec.analysis.rbac import Access

RBAC_CHECKS = tuple(c for c in engine.SELECTABLE if c.level is CheckLevel.RBAC)


def read(args: argparse.Namespace, config: Config, excludes: list[Exclude]) -> inventory.Inventory:
    """The objects under the PATHs, read as scan reads files: kustomizations' patch files and other
    inputs that are not manifests are left out (kustomizations are not rendered here)."""
    from podsec.sources import kustomize

    kinds = KindTable(config.kinds, detect_shapes=config.detect_pod_shapes)
    found = kustomize.plan(Walk(args.paths, excludes).directories(with_file=KUSTOMIZATION_FILES))
    own = {
        os.path.abspath(p)
        for p in (getattr(args, "baseline", None), getattr(args, "update_baseline", None), config.baseline)
        if p
    }
    inv = inventory.read(args.paths, excludes, kinds, skip=found.inputs | own)
    inv.errors += found.errors
    if not args.no_default_roles:
        inv.add_defaults()
    return inv


def rbac(args: argparse.Namespace, config: Config, excludes: list[Exclude]) -> int:
    """``podsec rbac``: who can do what the RBAC checks look for, reported as scan reports."""
    from podsec import rbac_report
    from podsec.analysis import rbac as analysis

    planned = outputs.planned(args)
    if planned is None:
        return EXIT_ERROR
    wanted, started = planned
    kinds = KindTable(config.kinds, detect_shapes=config.detect_pod_shapes)
    inv = read(args, config, excludes)
    version = args.kube_version or engine.NEWEST
    access = analysis.analyze(
        inv.authorizer(), inv.enforce_levels(), version=version, controllers=inv.controllers(kinds)
    )
    running = _running(args, config)
    if not running:
        print("podsec: error: --select and --ignore leave no rbac check to run", file=sys.stderr)
        return EXIT_ERROR
    kept = outputs.Baselined(args, config)
    results = _file_results(inv, rbac_report.findings(inv, access, _context(config, kinds, running)))
    threshold = fail_on(args, config)
    run = RunInfo(
        "rbac",
        format_version(version),
        checks=running,
        started=started,
        base_dir=os.getcwd(),
        tool_version=__version__,
        config=config.path,
        fail_on=threshold.value if threshold else "none",
        baseline=kept.file,
    )
    summary = Summary()
    summary.sections["rbac"] = rbac_report.section(access, inv)
    with contextlib.ExitStack() as stack:
        reporters = outputs.open_reporters(
            wanted, run, stack, no_color=args.no_color, before=lambda fmt, stream: _headline(fmt, stream, access, inv)
        )
        if reporters is None:
            return EXIT_ERROR
        outputs.report(reporters, (kept.filter(result) for result in results), summary)
        kept.stale(summary, {c.id for c in running})
        for reporter in reporters:
            reporter.finish(summary)
    return kept.exit_code(summary, threshold)


def _running(args: argparse.Namespace, config: Config) -> tuple[Rule, ...]:
    """The RBAC checks the selection keeps. A configuration's ``select`` that names none of them
    names checks of scan: then all of them run (``--select`` is for this command alone)."""
    verify(config, rules(None))
    chosen, ignored = selection(args, config, engine.SELECTABLE)
    if chosen is not None and not args.select and not chosen & {c.id for c in RBAC_CHECKS}:
        chosen = None
    return tuple(c for c in RBAC_CHECKS if c.id not in ignored and (chosen is None or c.id in chosen))


def _context(config: Config, kinds: KindTable, running: tuple[Rule, ...]) -> Context:
    """The context the RBAC findings are made in: the configuration's severities and exemptions."""
    return Context(
        engine.select(Profile.HARDENED, PolicyVersion(None)),
        kinds,
        severity=config.severity,
        exemptions=config.exemptions,
        annotation_exemptions=config.annotation_exemptions,
        today=date.today(),
        ignore=frozenset(c.id for c in RBAC_CHECKS if c not in running),
    )


def _file_results(inv: inventory.Inventory, findings: Iterable[FileResult]) -> list[FileResult]:
    """A result for every path that could not be read, for every file read (its findings and input
    errors), then for the findings of any other file."""
    found = {r.file: r for r in findings}
    results = [FileResult(e.file, errors=[e], read=False) for e in inv.errors if e.file not in inv.files]
    for file in inv.files:
        result = found.pop(file, None) or FileResult(file)
        result.read = True
        result.errors = [e for e in inv.errors if e.file == file]
        results.append(result)
    results += found.values()
    return results


def _headline(fmt: str, stream: TextIO, access: Access, inv: inventory.Inventory) -> None:
    """What the text report says first: who can do what."""
    if fmt == "text":
        from podsec import rbac_report

        rbac_report.write_headline(stream, access, inv)


def psp(args: argparse.Namespace, config: Config, excludes: list[Exclude]) -> int:
    """``podsec psp``: each PodSecurityPolicy mapped to a Pod Security Standards level, and the
    labels each namespace can take."""
    from podsec import psp_report

    inv = read(args, config, excludes)
    policies = psp_report.assess(inv)
    rows = psp_report.advice(inv, policies)
    if args.format == "json":
        json.dump(psp_report.as_json(policies, rows, inv), sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        psp_report.write_text(sys.stdout, policies, rows, inv)
    return EXIT_ERROR if inv.errors else EXIT_CLEAN
