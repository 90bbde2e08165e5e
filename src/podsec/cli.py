"""The command line: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from podsec import __version__, beyond, docs, engine, exemptions, explain, outputs, pipeline, scan
from podsec.checks import Check, Rule, Severity
from podsec.config import Config, ConfigError, load
from podsec.evaluate import Context
from podsec.evaluation import evaluation, policies, rules, run_info
from podsec.findings import DEFAULT_FAIL_ON, EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, FileResult, InputError, Summary
from podsec.model.standards import SCAN_PROFILES, PolicyVersion
from podsec.model.workloads import KindTable
from podsec.outputs import Progress
from podsec.rego.engine import RegoError
from podsec.reporters import REPORTERS
from podsec.reporters.sarif import SARIF_HARD_LIMIT, SARIF_MAX_RESULTS
from podsec.sources.files import KUSTOMIZATION_FILES, Exclude, Target, Walk, missing

if TYPE_CHECKING:
    from podsec.sources import kustomize as kustomize_types

__all__ = ["Discovered", "Progress", "build_parser", "kubectl_plugin", "main"]

SEVERITIES = [s.value for s in Severity]


class _Parser(argparse.ArgumentParser):
    """No abbreviated options (a later option must not change what a user's script means);
    usage errors exit 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"podsec: error: {message}\n")


def _kube_version(text: str) -> tuple[int, int]:
    version = _version(text if text.startswith("v") or text == "latest" else f"v{text}")
    return version.clamp(engine.NEWEST)


def _version(text: str) -> PolicyVersion:
    try:
        return PolicyVersion.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="configuration file (default: the nearest .podsec.yaml from the scanned paths upward, "
        "up to the git work tree's root)",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="skip paths matching this .gitignore-style PATTERN, relative to each scanned PATH or the working "
        "directory (charts/, *.tmpl.yaml, /legacy/**, ./build/, an absolute path; repeatable)",
    )
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")


MiB = 1024 * 1024


def _limit_args(ws: argparse.ArgumentParser) -> None:
    """The webhook server's bounds (README, "Webhook limits")."""
    g = ws.add_argument_group("limits")
    g.add_argument("--workers", type=int, default=0, metavar="N", help="review worker processes (default: the CPUs)")
    g.add_argument(
        "--review-deadline", type=float, default=8.0, metavar="S", help="answer every review within S seconds (8)"
    )
    g.add_argument("--queue", type=int, metavar="N", help="reviews waiting for a worker (default: 4 per worker)")
    g.add_argument("--max-body-bytes", type=int, default=16 * MiB, metavar="B", help="one request body (16 MiB)")
    g.add_argument(
        "--body-budget-bytes", type=int, default=32 * MiB, metavar="B", help="request bodies held at once (32 MiB)"
    )
    g.add_argument(
        "--inline-bytes", type=int, default=64 * 1024, metavar="B", help="smaller reviews are answered without a worker"
    )
    g.add_argument(
        "--worker-memory-bytes", type=int, default=160 * MiB, metavar="B", help="each worker's heap limit (160 MiB)"
    )
    g.add_argument("--max-connections", type=int, default=512, metavar="N", help="open connections (512)")
    g.add_argument("--handshake-timeout", type=float, default=5.0, metavar="S", help="TLS handshake (5 s)")
    g.add_argument("--header-timeout", type=float, default=10.0, metavar="S", help="a request's headers (10 s)")
    g.add_argument("--idle-timeout", type=float, default=30.0, metavar="S", help="a connection between requests (30 s)")


def build_parser(prog: str = "podsec") -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description="Kubernetes security contexts, governed as code.")
    parser.add_argument("--version", action="version", version=f"podsec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("scan", help="scan manifest files, directories or standard input")
    s.add_argument("paths", nargs="*", metavar="PATH", help="file, directory (recursive) or - for stdin")
    s.add_argument(
        "-k",
        "--kustomize-dir",
        dest="kustomize_dirs",
        action="append",
        default=[],
        metavar="DIR",
        help="render this Kustomize directory with `kubectl kustomize` and scan the result (repeatable)",
    )
    s.add_argument(
        "--kustomize",
        choices=["auto", "off"],
        help="auto (default): render each top-level kustomization found under the PATHs with kubectl, when "
        "kubectl is on the PATH; off: scan the files as they are (patch files are still left out)",
    )
    _profile_args(s)
    _report_args(s)
    s.add_argument("--no-progress", action="store_true", help="no progress line on stderr (shown on a terminal only)")
    _baseline_args(s)
    s.add_argument(
        "--no-passes",
        action="store_true",
        help="leave passing results out of policyreport reports (failures and exemptions stay)",
    )
    s.add_argument(
        "--sarif-max-results",
        type=int,
        metavar="N",
        help=f"at most N results in a SARIF report, the most severe kept (default: {SARIF_MAX_RESULTS:,}, "
        f"what GitHub code scanning keeps of a run; at most {SARIF_HARD_LIMIT:,})",
    )
    s.add_argument(
        "--no-annotation-exemptions",
        action="store_true",
        help="ignore podsec.io/exempt annotations (config-file exemptions still apply)",
    )
    s.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: all cores, for large inputs)")
    s.add_argument("--no-color", action="store_true", help="never colour the text output")
    _common(s)
    _policy_args(s)

    f = sub.add_parser("fix", help="fix manifests: print a diff, or write the files with --write")
    f.add_argument("paths", nargs="*", metavar="PATH", help="file, directory (recursive) or - for stdin")
    f.add_argument(
        "--profile",
        choices=[p.value for p in SCAN_PROFILES],
        help="the profile to fix towards: baseline, restricted or hardened (default: hardened)",
    )
    f.add_argument("--pss-version", type=_version, metavar="v1.N|latest", help="policy version (default: latest)")
    f.add_argument("--latest-is", type=_version, metavar="v1.N", help="evaluate latest as this version")
    f.add_argument(
        "--unsafe",
        action="store_true",
        help="also make the fixes that may change how a workload runs (runAsNonRoot, removing privileged, host "
        "namespaces, host ports and added capabilities; readOnlyRootFilesystem and the service account token "
        "under hardened)",
    )
    f.add_argument(
        "--run-as-user", type=int, metavar="UID", help="the UID to set where a fix needs one (never invented)"
    )
    f.add_argument("--write", action="store_true", help="write the fixed files in place (atomically)")
    f.add_argument(
        "-o",
        "--output",
        choices=["diff", "json-patch"],
        default="diff",
        help="diff (default): a unified diff for patch -p0 / git apply; json-patch: an RFC 6902 patch per object",
    )
    f.add_argument(
        "--fail-on",
        choices=[*SEVERITIES, "none"],
        metavar="SEVERITY",
        help=f"lowest severity of a finding left unfixed that makes the exit code 1 (default: {DEFAULT_FAIL_ON.value})",
    )
    f.add_argument(
        "--no-annotation-exemptions",
        action="store_true",
        help="ignore podsec.io/exempt annotations (config-file exemptions still apply)",
    )
    f.add_argument(
        "--kustomize",
        choices=["auto", "off"],
        help="auto (default): render kustomizations with kubectl and suggest fixes for their source files",
    )
    f.add_argument(
        "--report", metavar="FILE", help="write what was fixed, suggested, and what needs --unsafe or a human as JSON"
    )
    f.set_defaults(select=[], ignore=[], kustomize_dirs=[], baseline=None, update_baseline=None)
    _common(f)
    _policy_args(f)

    a = sub.add_parser("audit", help="audit a running cluster: its workloads and each namespace's readiness")
    from podsec.cluster import options as cluster_options

    cluster_options.audit_arguments(a, _version)
    _check_args(a)
    _report_args(a)
    a.add_argument(
        "--no-passes",
        action="store_true",
        help="leave passing results out of policyreport reports (failures and exemptions stay)",
    )
    a.add_argument(
        "--sarif-max-results",
        type=int,
        metavar="N",
        help=f"at most N results in a SARIF report, the most severe kept (default: {SARIF_MAX_RESULTS:,}; "
        f"at most {SARIF_HARD_LIMIT:,})",
    )
    a.add_argument("--no-color", action="store_true", help="never colour the text output")

    m = sub.add_parser("monitor", help="watch a cluster: metrics, readiness and PolicyReports kept current")
    cluster_options.audit_arguments(m, _version)
    cluster_options.monitor_arguments(m)
    _check_args(m)
    m.set_defaults(fail_on="none", monitor_command=None)
    msub = m.add_subparsers(dest="monitor_command", parser_class=_Parser)
    mm = msub.add_parser("manifests", help="print the Kubernetes objects that run the monitor")
    mm.add_argument("--namespace", default="podsec", help="the namespace it runs in (podsec)")
    mm.add_argument("--image", default="ghcr.io/podsec/podsec:0.1.0", help="the podsec image")
    mm.add_argument("--replicas", type=int, default=2, help="replicas (2; one writes reports, by Lease)")
    mm.add_argument("--no-reports", action="store_true", help="metrics only: no PolicyReports, no write rights")
    mm.add_argument("--no-prometheus-rule", action="store_true", help="leave out the PrometheusRule")

    e = sub.add_parser("explain", help="show the effective security context of every container, and its sources")
    e.add_argument("paths", nargs="+", metavar="PATH", help="file, directory (recursive) or - for stdin")
    e.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    _common(e)

    c = sub.add_parser("checks", help="list the checks, or show one check's documentation")
    c.add_argument(
        "action", nargs="?", choices=["list", "show"], default="list", help="list (default) or show one check"
    )
    c.add_argument("check", nargs="?", metavar="ID", help="the check to show (any case)")
    c.add_argument(
        "--format",
        choices=["text", "json", "markdown"],
        default="text",
        help="text (default), json (the list, for tools) or markdown (a check's page as in docs/checks/)",
    )
    c.add_argument("--config", metavar="FILE", help="configuration file (its policies are listed too)")
    c.add_argument("--no-color", action="store_true", help="never use bold or colour in the text output")
    c.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    _policy_args(c)

    w = sub.add_parser("webhook", help="the admission webhook: serve, print its manifests, make its certificate")
    wsub = w.add_subparsers(dest="webhook_command", required=True, parser_class=_Parser)
    ws = wsub.add_parser("serve", help="run the HTTPS admission server")
    ws.add_argument("--tls-cert", required=True, metavar="FILE", help="serving certificate (PEM); reloaded on change")
    ws.add_argument("--tls-key", required=True, metavar="FILE", help="its private key (PEM)")
    ws.add_argument("--config", metavar="FILE", help="configuration file (the webhook: section and exemptions)")
    ws.add_argument("--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0)")
    ws.add_argument("--port", type=int, default=8443, help="port (default: 8443)")
    ws.add_argument(
        "--cert-reload-seconds",
        type=float,
        default=10.0,
        metavar="S",
        help="how often to look for new certificate files",
    )
    ws.add_argument(
        "--shutdown-delay",
        type=float,
        default=5.0,
        metavar="S",
        help="on SIGTERM, keep serving this long while Kubernetes removes the endpoint",
    )
    ws.add_argument(
        "--graceful-seconds", type=int, default=20, metavar="S", help="then, the time in-flight requests get"
    )
    _limit_args(ws)
    ws.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    wm = wsub.add_parser("manifests", help="print the Kubernetes objects that run the webhook")
    wm.add_argument("--namespace", default="podsec", help="the namespace to run the webhook in (default: podsec)")
    wm.add_argument(
        "--image", default="ghcr.io/podsec/podsec:0.1.0", help="the podsec container image the Deployment runs"
    )
    wm.add_argument(
        "--tls",
        choices=["cert-manager", "secret"],
        default="cert-manager",
        help="how the serving certificate is provided",
    )
    wm.add_argument("--ca-bundle", metavar="FILE", help="with --tls secret: the CA certificate (PEM) for caBundle")
    wm.add_argument(
        "--failure-policy", choices=["Fail", "Ignore"], default="Fail", help="for pods (workloads always Ignore)"
    )
    wm.add_argument(
        "--failure-mode",
        choices=["deny", "allow"],
        default="deny",
        help="the server's answer to a review it cannot finish in time (deny)",
    )
    wm.add_argument("--timeout-seconds", type=int, default=10, metavar="S", help="the webhooks' timeoutSeconds (10)")
    wm.add_argument("--replicas", type=int, default=3, metavar="N", help="replicas, one per node (3; at least 2)")
    wm.add_argument("--workers", type=int, default=2, metavar="N", help="review workers per replica (2)")
    wm.add_argument(
        "--priority-class", default="system-cluster-critical", metavar="NAME", help="the pods' priorityClassName"
    )
    wm.add_argument(
        "--api-server-cidr",
        action="append",
        default=[],
        metavar="CIDR",
        help="the API server's addresses: the only source the NetworkPolicy admits (repeatable)",
    )
    wm.add_argument(
        "--cert-manager-namespace", default="cert-manager", metavar="NS", help="skipped with --tls cert-manager"
    )
    wm.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    wc = wsub.add_parser("cert", help="generate a CA and a serving certificate for the webhook Service")
    wc.add_argument("--dir", required=True, metavar="DIR", help="where to write ca.crt, ca.key, tls.crt, tls.key")
    wc.add_argument("--namespace", default="podsec", help="the webhook Service's namespace (default: podsec)")
    wc.add_argument("--service", default="podsec-webhook", help="the webhook Service's name (default: podsec-webhook)")
    wc.add_argument("--days", type=int, default=365, help="how long the serving certificate is valid (default: 365)")
    wc.add_argument("--host", action="append", default=[], help="an extra DNS name or IP in the certificate")
    wc.add_argument("--reuse-ca", action="store_true", help="sign with the CA already in DIR (rotation)")
    wc.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")

    r = sub.add_parser(
        "rbac", help="who can run privileged pods, exec into pods, escalate or impersonate, from RBAC manifests"
    )
    r.add_argument("paths", nargs="+", metavar="PATH", help="file, directory (recursive) or - for stdin")
    r.add_argument(
        "--kube-version",
        type=_kube_version,
        metavar="v1.N",
        help="the cluster's Kubernetes version (default: the newest podsec knows): from 1.35 exec, attach and "
        "port-forward need create; before, get sufficed",
    )
    _selection_args(r, "rbac")
    _report_args(r)
    _baseline_args(r)
    r.add_argument(
        "--no-default-roles",
        action="store_true",
        help="do not assume Kubernetes' default ClusterRoles (cluster-admin, admin, edit, view, system:*) "
        "where the input does not define them",
    )
    r.add_argument("--no-color", action="store_true", help="never colour the text output")
    _common(r)

    ps = sub.add_parser(
        "psp", help="map PodSecurityPolicies to Pod Security Standards levels, and namespaces to the labels to use"
    )
    ps.add_argument("paths", nargs="+", metavar="PATH", help="file, directory (recursive) or - for stdin")
    ps.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    ps.add_argument(
        "--no-default-roles",
        action="store_true",
        help="do not assume Kubernetes' default ClusterRoles where the input does not define them",
    )
    _common(ps)

    from podsec.vap import cli as vap_cli

    vap_cli.add_parser(sub, _Parser)

    t = sub.add_parser("test", help="run policy test suites (podsec-test.yaml files)")
    t.add_argument("paths", nargs="+", metavar="DIR", help="directory searched for podsec-test.yaml, or a suite file")
    t.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    return parser


def _report_args(p: argparse.ArgumentParser) -> None:
    """--format, -o and --fail-on: the reports a run writes and which findings fail it."""
    p.add_argument("--format", choices=sorted(REPORTERS), help="output format on standard output (default: text)")
    p.add_argument(
        "-o",
        "--output",
        action="append",
        default=[],
        metavar="FORMAT[=FILE]",
        help=f"write FORMAT ({', '.join(REPORTERS)}) to FILE, or to standard output without =FILE (repeatable)",
    )
    p.add_argument(
        "--fail-on",
        choices=[*SEVERITIES, "none"],
        metavar="SEVERITY",
        help=f"lowest severity that makes the exit code 1 ({', '.join(SEVERITIES)}), or none to only report "
        f"(default: {DEFAULT_FAIL_ON.value}: informational findings never fail)",
    )


def _policy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--policy", action="append", default=[], metavar="PATH", help="Rego policy file or directory (repeatable)"
    )
    p.add_argument(
        "--rego-syntax", choices=["auto", "v0", "v1"], help="Rego syntax of the policies (default: auto, per module)"
    )
    p.add_argument(
        "--policy-scope",
        choices=["pods", "all"],
        help="objects the policies see: pods (every object that carries a pod; default) or all (every object)",
    )


def _check_args(p: argparse.ArgumentParser) -> None:
    """The checks to run, as scan chooses them (``audit``, ``monitor``)."""
    _profile_args(p)
    p.add_argument(
        "--no-annotation-exemptions",
        action="store_true",
        help="ignore podsec.io/exempt annotations (config-file exemptions still apply)",
    )
    _policy_args(p)


def _profile_args(p: argparse.ArgumentParser) -> None:
    """The profile, its version and the selection of checks (``scan``, ``audit``, ``monitor``)."""
    p.add_argument(
        "--profile",
        choices=[profile.value for profile in SCAN_PROFILES],
        help="baseline or restricted (Pod Security Standards, exactly), or hardened: restricted plus podsec's "
        "own checks (default: hardened)",
    )
    p.add_argument("--pss-version", type=_version, metavar="v1.N|latest", help="policy version (default: latest)")
    p.add_argument("--latest-is", type=_version, metavar="v1.N", help="evaluate latest as this version")
    _selection_args(p, "baseline, restricted, hardened")


def _selection_args(p: argparse.ArgumentParser, levels: str) -> None:
    p.add_argument(
        "--select",
        action="append",
        default=[],
        metavar="NAMES",
        help=f"run only these checks: check ids or level names ({levels}), comma-separated "
        "(repeatable); an off-by-default check named here is turned on",
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="NAMES",
        help="never run these checks: check ids or level names, comma-separated (repeatable)",
    )


def _baseline_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--baseline",
        metavar="FILE",
        help="report and fail only on findings that are not in this baseline file (see --update-baseline)",
    )
    p.add_argument(
        "--update-baseline",
        metavar="FILE",
        help="write every current finding to this baseline file and exit 0 (2 if an input could not be read)",
    )


def _fix(args: argparse.Namespace, config: Config) -> int:
    from podsec.fixer import command

    chosen = evaluation(args, config)
    if chosen is None:
        return EXIT_ERROR
    if not args.paths:
        print("podsec: error: give at least one PATH", file=sys.stderr)
        return EXIT_ERROR
    if args.run_as_user is not None and not 0 < args.run_as_user < 2**31:
        print("podsec: error: --run-as-user needs a UID from 1 to 2147483647 (0 is root)", file=sys.stderr)
        return EXIT_ERROR
    notes = list(config.notes)
    found = Discovered(args, config, notes)
    code = command.run(found, chosen.ctx, args, fail_on=chosen.fail_on)
    for note in notes:
        print(f"podsec: note: {note}", file=sys.stderr)
    return code


def _scan(args: argparse.Namespace, config: Config) -> int:
    chosen = evaluation(args, config)
    if chosen is None:
        return EXIT_ERROR
    planned = _scan_outputs(args)
    if planned is None:
        return EXIT_ERROR
    wanted, started = planned
    kept = outputs.Baselined(args, config)
    ctx = replace(chosen.ctx, explain=True) if any(fmt == "html" for fmt, _ in wanted) else chosen.ctx
    run = run_info(args, config, chosen, started, baseline=kept.file)
    summary = Summary(notes=list(config.notes))
    with contextlib.ExitStack() as stack:
        reporters = outputs.open_reporters(wanted, run, stack, no_color=args.no_color)
        if reporters is None:
            return EXIT_ERROR
        progress = outputs.Progress(enabled=not args.no_progress and sys.stderr.isatty())
        with_fixes = any(fmt == "sarif" for fmt, _ in wanted)
        results = _results(args, config, ctx, summary.notes)
        outputs.report(reporters, _reported(results, ctx, kept, with_fixes=with_fixes), summary, progress)
        progress.done()
        ran = {c.id for c in (*run.checks, *chosen.policy.beyond)} | {r.id for r in exemptions.GOVERNANCE}
        kept.stale(summary, ran)
        for reporter in reporters:
            reporter.finish(summary)
    for note in summary.notes:
        print(f"podsec: note: {note}", file=sys.stderr)
    return kept.exit_code(summary, chosen.fail_on)


def _scan_outputs(args: argparse.Namespace) -> tuple[outputs.Outputs, float] | None:
    """The reports a scan writes and when it started; None after a usage error (said)."""
    problem = _bad_numbers(args)
    if problem:
        print(f"podsec: error: {problem}", file=sys.stderr)
        return None
    planned = outputs.planned(args)
    if planned is not None and not args.paths and not args.kustomize_dirs:
        print("podsec: error: give at least one PATH or -k DIR", file=sys.stderr)
        return None
    return planned


def _reported(
    results: Iterable[FileResult], ctx: Context, kept: outputs.Baselined, *, with_fixes: bool
) -> Iterator[FileResult]:
    """Each result as the reports get it: with the safe fix of each finding (SARIF), its
    tracebacks shown (--debug), and filtered by the baseline."""
    if with_fixes:  # SARIF results carry the safe fix of each finding that has one
        from podsec.fixer import sarif as sarif_fixes

        results = (sarif_fixes.attach(result, ctx) for result in results)
    for result in outputs.traced(results):
        yield kept.filter(result)


def _bad_numbers(args: argparse.Namespace) -> str | None:
    if args.jobs is not None and args.jobs < 1:
        return "--jobs must be at least 1"
    return outputs.bad_sarif_limit(args)


def _excludes(args: argparse.Namespace, config: Config) -> list[Exclude]:
    out = []
    if args.exclude:
        out.append(Exclude(tuple(args.exclude)))
    if config.exclude:
        base = os.path.dirname(config.path) or "." if config.path else None
        out.append(Exclude(config.exclude, base, f"exclude in {config.path or 'the configuration'}"))
    return out


def _results(args: argparse.Namespace, config: Config, ctx: Context, notes: list[str]) -> Iterator[FileResult]:
    found = Discovered(args, config, notes)
    yield from found.errors()
    yield from beyond.complete(scan.run(found.targets(), ctx, jobs=args.jobs), ctx)  # then the namespaces' findings
    found.finish()


class Discovered:
    """What the PATHs name: errors about them (`errors`, first), then the kustomizations rendered
    and every file to read (`targets`, lazily); notes go to ``notes`` (`finish` adds the walk's)."""

    def __init__(self, args: argparse.Namespace, config: Config, notes: list[str]) -> None:
        self.args, self.config, self.notes = args, config, notes
        self._rendered: list[Target] = []
        self._walk: Walk | None = None

    def errors(self) -> Iterator[FileResult]:
        from podsec.sources import kustomize

        args, config = self.args, self.config
        for err in missing(args.paths):
            yield FileResult(err.file, errors=[err], read=False)
        excludes = _excludes(args, config)
        walk = Walk(args.paths, excludes)
        found = kustomize.plan(walk.directories(with_file=KUSTOMIZATION_FILES))
        for err in found.errors:
            yield FileResult(err.file, errors=[err], read=False)
        rendered: list[str] = []
        for directory in self._overlays(found):
            item = kustomize.render(directory, found if os.path.abspath(directory) in found.kustomizations else None)
            if isinstance(item, InputError):
                yield FileResult(item.file, errors=[item], read=False)
            else:
                rendered.append(directory)
                self._rendered.append(item)
        skip = found.inputs | found.used_files(rendered)
        own = (args.baseline, args.update_baseline, config.baseline)  # baselines are podsec's files, not manifests
        skip |= {os.path.abspath(p) for p in own if p}
        self._walk = Walk(args.paths, excludes, skip, config.path)

    def _overlays(self, found: kustomize_types.Plan) -> list[str]:
        """The kustomizations to render: those named with -k, and (mode auto, with kubectl) those found."""
        from podsec.sources import kustomize

        overlays = list(dict.fromkeys(self.args.kustomize_dirs))
        if not found.overlays or (self.args.kustomize or self.config.kustomize or "auto") != "auto":
            return overlays
        if kustomize.find_kubectl() is None:
            self.notes.append(
                f"kubectl was not found, so {len(found.overlays)} kustomization"
                f"{'s are' if len(found.overlays) != 1 else ' is'} not rendered ({', '.join(found.overlays[:3])}"
                f"{', …' if len(found.overlays) > 3 else ''}): their files are scanned as they are. Install "
                "kubectl to scan what kustomize builds, or pass --kustomize off to scan files only"
            )
            return overlays
        known = {os.path.abspath(d) for d in overlays}
        return overlays + [d for d in found.overlays if os.path.abspath(d) not in known]

    def targets(self) -> Iterator[Target]:
        assert self._walk is not None, "errors() first"
        return itertools.chain(self._rendered, self._walk)

    def finish(self) -> None:
        if self._walk is not None:
            self.notes.extend(self._walk.notes)


def _explained(args: argparse.Namespace, config: Config) -> Iterator[explain.Explained | InputError]:
    kinds = KindTable(config.kinds, detect_shapes=config.detect_pod_shapes)
    yield from missing(args.paths)
    for target in Walk(args.paths, _excludes(args, config)):
        yield from pipeline.explain_target(target, kinds, debug=args.debug)


def _explain(args: argparse.Namespace, config: Config) -> int:
    errors = 0

    def counted() -> Iterator[explain.Explained | InputError]:
        nonlocal errors
        for item in _explained(args, config):
            if isinstance(item, InputError):
                errors += 1
                outputs.show_tracebacks([item])
            yield item

    writer = explain.write_json if args.format == "json" else explain.write_text
    writer(sys.stdout, counted())
    return EXIT_ERROR if errors else EXIT_CLEAN


def _checks(args: argparse.Namespace) -> int:
    config = load(args.config, known=None)
    every = rules(policies(args, config))
    if args.action == "show":
        return _show_check(args, every)
    if args.format == "json":
        json.dump([_check_row(c) for c in every], sys.stdout, indent=1)
        sys.stdout.write("\n")
        return EXIT_CLEAN
    width = max(len(c.id) for c in every)
    for c in every:
        off = "" if c.default_on else " (off by default)"
        sys.stdout.write(f"{c.id:<{width}}  {c.level.value:<10}  {c.severity.value:<8}  {c.title}{off}\n")
    return EXIT_CLEAN


def _show_check(args: argparse.Namespace, every: Sequence[Rule]) -> int:
    """``podsec checks show ID``: a check's page, as in docs/checks/ or rendered for a terminal."""
    if not args.check:
        print("podsec: error: checks show needs a check id (see `podsec checks`)", file=sys.stderr)
        return EXIT_ERROR
    check = next((c for c in every if c.id == args.check), None) or next(
        (c for c in every if c.id.lower() == args.check.lower()), None
    )
    if check is None:
        print(f'podsec: error: no such check: "{args.check}" (see `podsec checks`)', file=sys.stderr)
        return EXIT_ERROR
    page = docs.page(check)
    if args.format != "markdown":
        color = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
        page = docs.terminal(page, color=color)
    sys.stdout.write(page)
    return EXIT_CLEAN


def _check_row(c: Rule) -> dict[str, Any]:
    """A check as ``podsec checks --format json`` lists it."""
    return {
        "id": c.id,
        "profile": c.level.value,
        "severity": c.severity.value,
        "title": c.title,
        "defaultOn": c.default_on,
        "platform": c.platform.value,
        "options": dict(c.options) if isinstance(c, Check) else {},
    }


def _rbac(args: argparse.Namespace, config: Config) -> int:
    from podsec import inventory_cli

    return inventory_cli.rbac(args, config, _excludes(args, config))


def _psp(args: argparse.Namespace, config: Config) -> int:
    from podsec import inventory_cli

    return inventory_cli.psp(args, config, _excludes(args, config))


def _test(args: argparse.Namespace) -> int:
    from podsec.rego import testing

    suites = [s for path in args.paths for s in testing.find_suites(path)]
    if not suites:
        print(f"podsec: error: no {testing.SUITE} found under {', '.join(args.paths)}", file=sys.stderr)
        return EXIT_ERROR
    failed = passed = 0
    for suite in suites:
        try:
            for outcome in testing.run_suite(suite):
                status = "PASS" if outcome.passed else "FAIL"
                print(f"{status}  {suite}: {outcome.case}")
                for problem in outcome.problems:
                    print(f"      {problem}")
                passed += outcome.passed
                failed += not outcome.passed
        except testing.SuiteError as exc:
            print(f"podsec: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
    print(f"\n{passed} passed, {failed} failed")
    return EXIT_FINDINGS if failed else EXIT_CLEAN


def kubectl_plugin() -> int:
    """The ``kubectl-podsec`` entry point: ``kubectl podsec scan ...`` (kubectl finds it on the PATH)."""
    return main(prog="kubectl podsec")


EXIT_BROKEN_PIPE = 128 + 13
"""What a shell reports for a command that SIGPIPE ended."""


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so that flushing at exit cannot fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _tolerant_streams() -> None:
    """A name that is not valid text is shown escaped, never a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _vap(args: argparse.Namespace) -> int:
    from podsec.vap import cli as vap_cli

    return vap_cli.run(args)


def _webhook(args: argparse.Namespace) -> int:
    from podsec.admission import cli as webhook_cli

    return webhook_cli.run(args)


def _monitor(args: argparse.Namespace) -> int:
    if args.monitor_command == "manifests":
        from podsec.cluster import manifests

        options = manifests.Options(
            args.namespace, args.image, args.replicas, not args.no_reports, not args.no_prometheus_rule
        )
        sys.stdout.write(manifests.render(options))
        return EXIT_CLEAN
    from podsec.cluster import service

    return service.run(args, load(args.config, known=None))


def _audit(args: argparse.Namespace) -> int:
    from podsec.cluster import cli as audit_cli

    return audit_cli.run(args, load(args.config, known=None))


_ON_THEIR_OWN: dict[str, Callable[[argparse.Namespace], int]] = {
    "checks": _checks,
    "test": _test,
    "vap": _vap,
    "webhook": _webhook,
    "monitor": _monitor,
    "audit": _audit,
}
"""Commands that find their configuration themselves (or need none)."""

_ON_PATHS: dict[str, Callable[[argparse.Namespace, Config], int]] = {
    "scan": _scan,
    "fix": _fix,
    "explain": _explain,
    "rbac": _rbac,
    "psp": _psp,
}
"""Commands that read PATHs, with the configuration found for them."""


def _run(args: argparse.Namespace) -> int:
    if args.command in _ON_THEIR_OWN:
        return _ON_THEIR_OWN[args.command](args)
    paths = [*getattr(args, "paths", []), *getattr(args, "kustomize_dirs", [])]
    config = load(getattr(args, "config", None), known=None, paths=paths)
    return _ON_PATHS[args.command](args, config)


def main(argv: Sequence[str] | None = None, *, prog: str = "podsec") -> int:
    _tolerant_streams()
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    debug = getattr(args, "debug", False)
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"podsec: configuration error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except RegoError as exc:
        print(f"podsec: policy error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`podsec scan . | head -1`): end quietly, like other tools
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # the last line of defence: never a traceback without --debug
        if debug:
            traceback.print_exc()
        print(f"podsec: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_ERROR
