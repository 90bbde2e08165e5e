"""``podsec vap test`` and ``podsec vap generate``: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

from podsec import __version__
from podsec.checks import CheckLevel, Rule, Severity
from podsec.findings import EXIT_ERROR, FileResult, Finding, InputError, ObjectResult, Summary, exit_code
from podsec.model.objects import ObjectRef
from podsec.reporters import REPORTERS, RunInfo
from podsec.vap import celenv, k8slib
from podsec.vap.admission import Cluster, Decision, Outcome, admit, denial_text, warning_text
from podsec.vap.inputs import Inputs, Resource, load

FORMATS = ("text", "json", "sarif", "junit")
_SEVERITY = {"Deny": Severity.ERROR, "Warn": Severity.MEDIUM, "Audit": Severity.INFO}


def _kube_version(text: str) -> celenv.Version:
    try:
        return celenv.parse_version(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: argparse._SubParsersAction, parser_class: type[argparse.ArgumentParser]) -> None:  # type: ignore[type-arg]
    v = sub.add_parser("vap", help="ValidatingAdmissionPolicies: test them offline, or generate podsec's")
    vsub = v.add_subparsers(dest="vap_command", required=True, parser_class=parser_class)
    newest = f"1.{celenv.NEWEST[1]}"
    t = vsub.add_parser("test", help="evaluate ValidatingAdmissionPolicies and bindings on resources, offline")
    t.add_argument("policies", nargs="+", metavar="POLICY_FILE", help="files or directories of policies and bindings")
    t.add_argument(
        "--resources", nargs="+", required=True, metavar="PATH", help="resources to admit (files, directories, -)"
    )
    t.add_argument(
        "--kube-version",
        type=_kube_version,
        default=celenv.NEWEST,
        metavar="1.N",
        help=f"API server (default {newest})",
    )
    t.add_argument(
        "--authorizer",
        choices=k8slib.AUTHORIZER_ANSWERS,
        help="answer every authorizer check of the policies so (default: refuse policies that use the authorizer)",
    )
    t.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    t.add_argument("--no-color", action="store_true", help="never colour the text output")
    t.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    g = vsub.add_parser("generate", help="print ValidatingAdmissionPolicies that enforce a profile like PSA")
    g.add_argument(
        "--profile",
        choices=["baseline", "restricted", "hardened"],
        help="profile to enforce (default: the config's profile, else restricted)",
    )
    g.add_argument(
        "--config", metavar="FILE", help="configuration file for checks.enable/disable/options (default: .podsec.yaml)"
    )
    g.add_argument("--pss-version", default="latest", metavar="v1.N|latest", help="what latest means (default: newest)")
    g.add_argument(
        "--kube-version",
        type=_kube_version,
        default=celenv.NEWEST,
        metavar="1.N",
        help=f"API server (default {newest})",
    )
    for what in ("namespace", "username", "runtime-class"):
        g.add_argument(
            f"--exempt-{what}",
            action="append",
            default=[],
            metavar="NAME",
            help=f"PSA exemption: a {what} (repeatable)",
        )
    g.add_argument(
        "--fail-on",
        choices=[s.value for s in Severity],
        metavar="SEVERITY",
        help="hardened: the lowest severity a check must have to deny (default: info, every check, as podsec's "
        "webhook; low leaves out informational checks, as podsec scan's default)",
    )
    g.add_argument(
        "--not-expressible", action="store_true", help="list what the generated policies cannot evaluate as podsec does"
    )
    g.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")


def run(args: argparse.Namespace) -> int:
    if args.vap_command == "generate":
        from podsec.vap import generate

        return generate.main(args)
    return _test(args)


@functools.cache
def _policy_rule(name: str) -> Rule:
    """A policy's findings come from this rule (a rule, not a check: it is not evaluated on pods)."""
    return Rule(
        id=name,
        level=CheckLevel.POLICY,
        title=f"ValidatingAdmissionPolicy {name}",
        severity=Severity.ERROR,
        rationale=f"The ValidatingAdmissionPolicy {name} and its bindings, evaluated as the API server does.",
        remediation="Change the resource so that the policy admits it, or change the policy.",
    )


def findings(resource: Resource, outcome: Outcome) -> list[Finding]:
    """Each denial, warning and audit entry of one request, as a finding on the resource."""
    ref = ObjectRef.of(resource.object)
    if resource.request.namespace and not ref.namespace:
        ref = replace(ref, namespace=resource.request.namespace)
    out = []
    entries: list[tuple[Decision, str, str]] = [(d, "Deny", denial_text(d)) for d in outcome.denials]
    for d, action in outcome.reports:
        if action == "Warn":
            entries.append((d, action, warning_text(d)))
        elif action == "Audit":
            entries.append(
                (
                    d,
                    action,
                    f"Audit: ValidatingAdmissionPolicy '{d.policy}' with binding '{d.binding}' would deny: {d.message}",
                )
            )
    for d, action, text in entries:
        out.append(
            Finding(
                check=_policy_rule(d.policy),
                severity=_SEVERITY[action],
                level=CheckLevel.POLICY,
                object=ref,
                pod=None,
                container=None,
                field=(),
                file=resource.file,
                line=resource.line,
                column=None,
                location="parent",
                message=text,
            )
        )
    return out


def results(inputs: Inputs) -> list[FileResult]:
    """One FileResult per input file, in order: input errors, and an object per resource."""
    cluster = Cluster(inputs.namespaces, inputs.objects, inputs.catalog)
    by_file: dict[str | None, FileResult] = {}
    for name in inputs.files:
        by_file.setdefault(name, FileResult(name))
    for error in inputs.errors:
        by_file.setdefault(error.file, FileResult(error.file, read=error.file in inputs.files)).errors.append(error)
    for resource in inputs.resources:
        outcome = admit(resource.request, inputs.policies, inputs.bindings, cluster)
        ref = ObjectRef.of(resource.object)
        result = by_file.setdefault(resource.file, FileResult(resource.file))
        result.errors.extend(InputError(resource.file, resource.line, f"{ref}: {text}") for text in outcome.unsupported)
        result.objects.append(
            ObjectResult(
                object=ref,
                file=resource.file,
                line=resource.line,
                findings=tuple(findings(resource, outcome)),
                verdicts=((None, outcome.message),) if outcome.message else (),
                carries_pod=False,
            )
        )
    return list(by_file.values())


def _test(args: argparse.Namespace) -> int:
    version: celenv.Version = args.kube_version
    inputs = load(args.policies, args.resources, version, args.authorizer)
    if not inputs.resources and not inputs.errors:
        print("podsec: error: no resources found in --resources", file=sys.stderr)
        return EXIT_ERROR
    label = f"1.{version[1]}"
    run_info = RunInfo(
        profile=f"ValidatingAdmissionPolicy, Kubernetes {label}",
        evaluated=label,
        checks=tuple(_policy_rule(p.name) for p in inputs.policies),
        started=float(os.environ.get("SOURCE_DATE_EPOCH") or time.time()),
        base_dir=os.getcwd(),
        tool_version=__version__,
        color=args.format == "text" and sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ,
    )
    reporter = REPORTERS[args.format](sys.stdout, run_info)
    summary = Summary()
    for result in results(inputs):
        summary.add(result)
        reporter.file(result)
    reporter.finish(summary)
    return exit_code(summary, fail_on=Severity.ERROR)


def outcomes(inputs: Inputs) -> Sequence[tuple[Resource, Outcome]]:
    """Every resource with the API server's answer (for tests and tools)."""
    cluster = Cluster(inputs.namespaces, inputs.objects, inputs.catalog)
    return [(r, admit(r.request, inputs.policies, inputs.bindings, cluster)) for r in inputs.resources]
