"""The command line: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from podsec import __version__, docs, engine, explain, scan
from podsec.checks import ALL_CHECKS
from podsec.checks._base import Check, Severity
from podsec.config import Config, ConfigError, load, verify_ids
from podsec.evaluate import Context
from podsec.findings import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, FileResult, InputError, Summary, exit_code
from podsec.model.standards import PolicyVersion, format_version
from podsec.model.workloads import KindTable
from podsec.rego.engine import RegoError
from podsec.reporters import REPORTERS, RunInfo
from podsec.sources.files import discover, missing, read_objects, read_target

if TYPE_CHECKING:
    from podsec.rego.policies import PolicySet

SEVERITIES = [s.value for s in Severity]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"podsec: error: {message}\n")


def _version(text: str) -> PolicyVersion:
    try:
        return PolicyVersion.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", metavar="FILE", help="configuration file (default: .podsec.yaml here or at the git root)"
    )
    p.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip paths matching GLOB (repeatable)"
    )
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="podsec", description="Kubernetes security contexts, governed as code.")
    parser.add_argument("--version", action="version", version=f"podsec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("scan", help="scan manifest files, directories or standard input")
    s.add_argument("paths", nargs="*", metavar="PATH", help="file, directory (recursive) or - for stdin")
    s.add_argument(
        "-k",
        "--kustomize",
        action="append",
        default=[],
        metavar="DIR",
        help="render a Kustomize directory with `kubectl kustomize` and scan the result (repeatable)",
    )
    s.add_argument(
        "--profile",
        choices=[p.value for p in engine.Profile],
        help="baseline or restricted (Pod Security Standards, exactly), or hardened: restricted plus podsec's "
        "own checks (default: hardened)",
    )
    s.add_argument("--pss-version", type=_version, metavar="v1.N|latest", help="policy version (default: latest)")
    s.add_argument("--latest-is", type=_version, metavar="v1.N", help="evaluate latest as this version")
    s.add_argument("--format", choices=sorted(REPORTERS), help="output format on standard output (default: text)")
    s.add_argument(
        "-o",
        "--output",
        action="append",
        default=[],
        metavar="FORMAT[=FILE]",
        help=f"write FORMAT ({', '.join(REPORTERS)}) to FILE, or to standard output without =FILE (repeatable)",
    )
    s.add_argument("--no-progress", action="store_true", help="no progress line on stderr (shown on a terminal only)")
    s.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        metavar="SEVERITY",
        help=f"lowest severity that makes the exit code 1 ({', '.join(SEVERITIES)}; default: info, i.e. any finding)",
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

    e = sub.add_parser("explain", help="show the effective security context of every container, and its sources")
    e.add_argument("paths", nargs="+", metavar="PATH", help="file, directory (recursive) or - for stdin")
    e.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    _common(e)

    c = sub.add_parser("checks", help="list the checks, or show one check's documentation")
    c.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    c.add_argument("check", nargs="?", metavar="ID", help="the check to show")
    c.add_argument("--format", choices=["text", "json"], default="text", help="output format for the list")
    c.add_argument("--config", metavar="FILE", help="configuration file (its policies are listed too)")
    c.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
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
    ws.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    wm = wsub.add_parser("manifests", help="print the Kubernetes objects that run the webhook")
    wm.add_argument("--namespace", default="podsec")
    wm.add_argument("--image", default="ghcr.io/podsec/podsec:0.1.0")
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
    wm.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    wc = wsub.add_parser("cert", help="generate a CA and a serving certificate for the webhook Service")
    wc.add_argument("--dir", required=True, metavar="DIR", help="where to write ca.crt, ca.key, tls.crt, tls.key")
    wc.add_argument("--namespace", default="podsec")
    wc.add_argument("--service", default="podsec-webhook")
    wc.add_argument("--days", type=int, default=365)
    wc.add_argument("--host", action="append", default=[], help="an extra DNS name or IP in the certificate")
    wc.add_argument("--reuse-ca", action="store_true", help="sign with the CA already in DIR (rotation)")
    wc.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    t = sub.add_parser("test", help="run policy test suites (podsec-test.yaml files)")
    t.add_argument("paths", nargs="+", metavar="DIR", help="directory searched for podsec-test.yaml, or a suite file")
    t.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    return parser


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


def _policies(args: argparse.Namespace, config: Config) -> PolicySet | None:
    paths = [*config.policies, *args.policy]
    if not paths:
        return None
    from podsec.rego import policies as rego

    syntax = args.rego_syntax or config.rego_syntax or "auto"
    scope = args.policy_scope or config.policy_scope or "pods"
    return rego.load(paths, syntax=syntax, scope=scope)  # type: ignore[arg-type]


def _policy(args: argparse.Namespace, config: Config, extra: Sequence[Check] = ()) -> engine.Policy | None:
    profile = engine.Profile(args.profile or (config.profile.value if config.profile else "hardened"))
    version = args.pss_version or config.pss_version or PolicyVersion(None)
    latest_is = config.latest_is
    if args.latest_is is not None:
        if args.latest_is.minor is None:
            print("podsec: error: --latest-is needs an explicit version such as v1.33", file=sys.stderr)
            return None
        latest_is = (1, args.latest_is.minor)
    try:
        return engine.select(
            profile,
            version,
            latest_is=latest_is,
            checks=(*ALL_CHECKS, *extra),
            enable=config.enable,
            disable=config.disable,
            options=config.options,
        )
    except engine.ConfigurationError as exc:
        raise ConfigError(str(exc)) from None


def _scan(args: argparse.Namespace, config: Config) -> int:
    policies = _policies(args, config)
    extra = policies.checks if policies else ()
    verify_ids(config, frozenset(c.id for c in (*ALL_CHECKS, *extra)))
    policy = _policy(args, config, extra)
    if policy is None:
        return EXIT_ERROR
    if policies is not None:
        policies.disabled = frozenset(config.disable)
    if args.jobs is not None and args.jobs < 1:
        print("podsec: error: --jobs must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    ctx = Context(
        policy,
        KindTable(config.kinds),
        severity=config.severity,
        exemptions=config.exemptions,
        annotation_exemptions=config.annotation_exemptions and not args.no_annotation_exemptions,
        today=date.today(),
        policies=policies,
    )
    try:
        outputs = _outputs(args)
    except ValueError as exc:
        print(f"podsec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if not args.paths and not args.kustomize:
        print("podsec: error: give at least one PATH or -k DIR", file=sys.stderr)
        return EXIT_ERROR
    if any(fmt == "html" for fmt, _ in outputs):
        ctx = replace(ctx, explain=True)
    run = RunInfo(
        str(policy),
        format_version(policy.evaluated_version),
        checks=(*(s.check for s in policy.checks), *extra),
        started=float(os.environ.get("SOURCE_DATE_EPOCH") or time.time()),  # reproducible reports
        base_dir=os.getcwd(),
        tool_version=__version__,
    )
    with contextlib.ExitStack() as stack:
        reporters = []
        for fmt, path in outputs:
            stream = sys.stdout if path is None else stack.enter_context(open(path, "w", encoding="utf-8"))
            tty = path is None and sys.stdout.isatty()
            color = fmt == "text" and tty and not args.no_color and "NO_COLOR" not in os.environ
            reporters.append(REPORTERS[fmt](stream, replace(run, color=color)))
        progress = Progress(enabled=not args.no_progress and sys.stderr.isatty())
        summary = Summary()
        for result in _results(args, config, ctx):
            summary.add(result)
            progress.update(summary)
            for reporter in reporters:
                reporter.file(result)
        progress.done()
        for reporter in reporters:
            reporter.finish(summary)
    fail_on = Severity(args.fail_on) if args.fail_on else (config.fail_on or Severity.INFO)
    return exit_code(summary, fail_on=fail_on)


def _outputs(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """(format, file or None for standard output) for every report asked for."""
    outputs: list[tuple[str, str | None]] = []
    if args.format or not args.output:
        outputs.append((args.format or "text", None))
    for spec in args.output:
        fmt, _, path = spec.partition("=")
        if fmt not in REPORTERS:
            raise ValueError(f"-o {spec}: unknown format {fmt!r} (formats: {', '.join(REPORTERS)})")
        if "=" in spec and not path:
            raise ValueError(f"-o {spec}: name a file after =")
        outputs.append((fmt, path or None))
    if sum(1 for _, path in outputs if path is None) > 1:
        raise ValueError("only one report can go to standard output; give the others a file (-o FORMAT=FILE)")
    return outputs


def _results(args: argparse.Namespace, config: Config, ctx: Context) -> Iterator[FileResult]:
    for err in missing(args.paths):
        yield FileResult(err.file, errors=[err], read=False)
    from podsec.sources import kustomize

    rendered = [kustomize.render(d) for d in args.kustomize]
    for item in rendered:
        if isinstance(item, InputError):
            yield FileResult(item.file, errors=[item], read=False)
    targets = itertools.chain(
        (t for t in rendered if not isinstance(t, InputError)),
        discover(args.paths, excluded=(*config.exclude, *args.exclude)),
    )
    yield from scan.run(targets, ctx, jobs=args.jobs)


class Progress:
    """A one-line progress report on stderr for long scans on a terminal (at most 10 updates a second)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled, self._last, self._start, self._drawn = enabled, 0.0, time.monotonic(), False

    def update(self, summary: Summary) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < 0.1 or now - self._start < 0.5:
            return
        self._last, self._drawn = now, True
        sys.stderr.write(
            f"\r\x1b[Kpodsec: {summary.files:,} files, {summary.objects:,} workloads, "
            f"{summary.findings:,} findings, {summary.errors:,} errors"
        )
        sys.stderr.flush()

    def done(self) -> None:
        if self._drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _explained(args: argparse.Namespace, config: Config) -> Iterator[explain.Explained | InputError]:
    kinds = KindTable(config.kinds)
    yield from missing(args.paths)
    for target in discover(args.paths, excluded=(*config.exclude, *args.exclude)):
        data = read_target(target)
        if isinstance(data, InputError):
            yield data
            continue
        for item in read_objects(data, target.name, kinds):
            if isinstance(item, InputError):
                yield item
                continue
            outcome = explain.explain_object(
                item.obj, kinds, file=target.name, line_offset=item.line_offset, line=item.line
            )
            if isinstance(outcome, list):
                yield from outcome
            elif outcome is not None:
                yield outcome


def _explain(args: argparse.Namespace, config: Config) -> int:
    errors = 0

    def counted() -> Iterator[explain.Explained | InputError]:
        nonlocal errors
        for item in _explained(args, config):
            errors += isinstance(item, InputError)
            yield item

    writer = explain.write_json if args.format == "json" else explain.write_text
    writer(sys.stdout, counted())
    return EXIT_ERROR if errors else EXIT_CLEAN


def _checks(args: argparse.Namespace) -> int:
    config = load(args.config, known=None)
    policies = _policies(args, config)
    every = (*ALL_CHECKS, *(policies.checks if policies else ()))
    if args.action == "show":
        if not args.check:
            print("podsec: error: checks show needs a check id (see `podsec checks`)", file=sys.stderr)
            return EXIT_ERROR
        check = next((c for c in every if c.id == args.check), None)
        if check is None:
            print(f'podsec: error: no such check: "{args.check}" (see `podsec checks`)', file=sys.stderr)
            return EXIT_ERROR
        sys.stdout.write(docs.page(check))
        return EXIT_CLEAN
    if args.format == "json":
        rows = [
            {
                "id": c.id,
                "profile": c.level.value,
                "severity": c.severity.value,
                "title": c.title,
                "defaultOn": c.default_on,
                "platform": c.platform.value,
                "options": dict(c.options),
            }
            for c in every
        ]
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return EXIT_CLEAN
    width = max(len(c.id) for c in every)
    for c in every:
        off = "" if c.default_on else " (off by default)"
        sys.stdout.write(f"{c.id:<{width}}  {c.level.value:<10}  {c.severity.value:<8}  {c.title}{off}\n")
    return EXIT_CLEAN


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    debug = getattr(args, "debug", False)
    try:
        if args.command == "checks":
            return _checks(args)
        if args.command == "test":
            return _test(args)
        if args.command == "webhook":
            from podsec.admission import cli as webhook_cli

            return webhook_cli.run(args)
        config = load(getattr(args, "config", None), known=None)
        if args.command == "explain":
            return _explain(args, config)
        return _scan(args, config)
    except ConfigError as exc:
        print(f"podsec: configuration error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except RegoError as exc:
        print(f"podsec: policy error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # the last line of defence: never a traceback without --debug
        if debug:
            traceback.print_exc()
        print(f"podsec: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", file=sys.stderr)
        return EXIT_ERROR
