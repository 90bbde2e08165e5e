"""``podsec fix``: fix every file the PATHs name, show or write the result, summarise.

Exit codes: 0 nothing is left to fix; 1 changes were shown (no ``--write``), or findings at or
above ``--fail-on`` remain that fix may not make (they need ``--unsafe`` or a human, or are in
files podsec does not edit); 2 an input or usage error.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from podsec import beyond, scan
from podsec.checks import FixOptions, Severity
from podsec.evaluate import Context
from podsec.findings import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, InputError
from podsec.fixer import output
from podsec.fixer.files import FileFix, fix_target
from podsec.fixer.objects import Status, beyond_the_pod
from podsec.sources.files import Target

if TYPE_CHECKING:
    from podsec.cli import Discovered


def fix_all(
    found: Discovered, ctx: Context, options: FixOptions, *, unsafe: bool, jobs: int | None = None
) -> Iterator[FileFix]:
    """Every file's fix, in order (on every core for large inputs, as scans are), then, as after a
    scan, the findings about namespaces (`podsec.beyond`): a human's to fix."""
    for result in found.errors():
        yield FileFix(result.file or "-", errors=list(result.errors))
    work = functools.partial(_fix_one, options=options, unsafe=unsafe)
    for done in beyond.complete(scan.run_each(found.targets(), ctx, work, failed=_fix_failed, jobs=jobs), ctx):
        if isinstance(done, FileFix):
            yield done
        else:
            outcomes = [beyond_the_pod(f) for o in done.objects for f in o.findings]
            yield FileFix(done.file or "-", outcomes=outcomes)
    found.finish()


def _fix_failed(target: Target, error: InputError) -> FileFix:
    return FileFix(target.name, errors=[error])


def _fix_one(target: Target, ctx: Context, *, options: FixOptions, unsafe: bool) -> FileFix:
    return fix_target(target, ctx, options, unsafe=unsafe)


def run(found: Discovered, ctx: Context, args: argparse.Namespace, *, fail_on: Severity | None) -> int:
    options = FixOptions(run_as_user=args.run_as_user)
    fixes: list[FileFix] = []
    for fix in fix_all(found, ctx, options, unsafe=args.unsafe):
        fixes.append(fix)
        for err in fix.errors:
            print(f"podsec: error: {err}", file=sys.stderr)
        if fix.after is not None and fix.changed:
            _show_or_write(fix, args)
    if args.output == "json-patch":
        sys.stdout.write(output.json_patches(p for f in fixes for p in f.patches))
    output.summary(fixes, written=args.write, stream=sys.stderr)
    if args.report:
        try:
            with open(args.report, "w", encoding="utf-8") as fh:
                output.report(fixes, fh)
        except OSError as exc:
            print(f"podsec: error: --report {args.report}: cannot write: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_ERROR
    return exit_code(fixes, written=args.write, fail_on=fail_on)


def _show_or_write(fix: FileFix, args: argparse.Namespace) -> None:
    """Write the fixed file (--write), or show its diff; standard input's fix goes to standard output."""
    assert fix.after is not None
    if args.write and fix.path is not None:
        try:
            output.write_atomically(fix.path, fix.after)
        except OSError as exc:
            fix.errors.append(InputError(fix.name, None, f"cannot write: {exc.strerror or exc}"))
            print(f"podsec: error: {fix.name}: cannot write: {exc.strerror or exc}", file=sys.stderr)
    elif args.write:
        sys.stdout.write(fix.after.decode("utf-8"))
    elif args.output == "diff":
        sys.stdout.write(output.unified_diff(fix))


def exit_code(fixes: Sequence[FileFix], *, written: bool, fail_on: Severity | None) -> int:
    if any(f.errors for f in fixes):
        return EXIT_ERROR
    if not written and any(f.changed for f in fixes):
        return EXIT_FINDINGS
    for f in fixes:
        for o in f.outcomes:
            left = o.status is not Status.FIXED or bool(f.rendered)
            if left and fail_on is not None and o.finding.severity.rank <= fail_on.rank:
                return EXIT_FINDINGS
    return EXIT_CLEAN
