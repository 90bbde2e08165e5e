"""The command line: argument parsing and wiring only."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from podsec import __version__, engine, scan
from podsec.config import Config, ConfigError, load
from podsec.evaluate import Context
from podsec.findings import EXIT_ERROR, FileResult, Summary, exit_code
from podsec.model.standards import Level, PolicyVersion, format_version
from podsec.model.workloads import KindTable
from podsec.reporters import REPORTERS, RunInfo
from podsec.sources.files import discover, missing


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"podsec: error: {message}\n")


def _version(text: str) -> PolicyVersion:
    try:
        return PolicyVersion.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="podsec", description="Kubernetes security contexts, governed as code.")
    parser.add_argument("--version", action="version", version=f"podsec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("scan", help="scan manifest files, directories or standard input")
    s.add_argument("paths", nargs="+", metavar="PATH", help="file, directory (recursive) or - for stdin")
    s.add_argument(
        "--profile", choices=["baseline", "restricted"], help="Pod Security Standards level (default: restricted)"
    )
    s.add_argument("--pss-version", type=_version, metavar="v1.N|latest", help="policy version (default: latest)")
    s.add_argument("--latest-is", type=_version, metavar="v1.N", help="evaluate latest as this version")
    s.add_argument("--format", choices=sorted(REPORTERS), default="text", help="output format (default: text)")
    s.add_argument("--config", metavar="FILE", help="configuration file (default: ./.podsec.yaml if present)")
    s.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip paths matching GLOB (repeatable)"
    )
    s.add_argument("--jobs", type=int, metavar="N", help="worker processes (default: all cores, for large inputs)")
    s.add_argument("--no-color", action="store_true", help="never colour the text output")
    s.add_argument("--debug", action="store_true", help="show Python tracebacks for internal errors")
    return parser


def _scan(args: argparse.Namespace, config: Config) -> int:
    level = Level(args.profile or (config.profile.value if config.profile else "restricted"))
    version = args.pss_version or config.pss_version or PolicyVersion(None)
    latest_is = config.latest_is
    if args.latest_is is not None:
        if args.latest_is.minor is None:
            print("podsec: error: --latest-is needs an explicit version such as v1.33", file=sys.stderr)
            return EXIT_ERROR
        latest_is = (1, args.latest_is.minor)
    policy = engine.select(level, version, latest_is=latest_is)
    ctx = Context(policy, KindTable(config.kinds))
    color = not args.no_color and args.format == "text" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    run = RunInfo(str(policy), format_version(policy.evaluated_version), color)
    reporter = REPORTERS[args.format](sys.stdout, run)
    summary = Summary()
    if args.jobs is not None and args.jobs < 1:
        print("podsec: error: --jobs must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    for err in missing(args.paths):
        result = FileResult(err.file, errors=[err])
        summary.add(result)
        summary.files -= 1  # not a file that was read
        reporter.file(result)
    targets = discover(args.paths, excluded=(*config.exclude, *args.exclude))
    for result in scan.run(targets, ctx, jobs=args.jobs):
        summary.add(result)
        reporter.file(result)
    reporter.finish(summary)
    return exit_code(summary)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    debug = getattr(args, "debug", False)
    try:
        config = load(getattr(args, "config", None))
        return _scan(args, config)
    except ConfigError as exc:
        print(f"podsec: configuration error: {exc}", file=sys.stderr)
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
