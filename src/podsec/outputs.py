"""Where a command's results go: the reports asked for (``--format``, ``-o FORMAT[=FILE]``), opened
before anything is read; the baseline they are matched against or written to; progress and
tracebacks on standard error. Shared by ``scan``, ``rbac`` and ``audit``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TextIO

from podsec import baseline
from podsec.checks import Severity
from podsec.config import Config, ConfigError
from podsec.findings import EXIT_CLEAN, EXIT_ERROR, FileResult, Finding, InputError, Summary, exit_code
from podsec.reporters import REPORTERS, Reporter, RunInfo
from podsec.reporters.sarif import SARIF_HARD_LIMIT

Outputs = list[tuple[str, str | None]]
"""(format, file or None for standard output) of every report asked for."""


class OutputError(Exception):
    """A report file that cannot be written."""


def outputs(args: argparse.Namespace) -> Outputs:
    """Every report ``--format`` and ``-o`` ask for; a ValueError for a bad or clashing one."""
    found: Outputs = []
    if args.format or not args.output:
        found.append((args.format or "text", None))
    for spec in args.output:
        fmt, _, path = spec.partition("=")
        if fmt not in REPORTERS:
            raise ValueError(f"-o {spec}: unknown format {fmt!r} (formats: {', '.join(REPORTERS)})")
        if "=" in spec and not path:
            raise ValueError(f"-o {spec}: name a file after =")
        found.append((fmt, path or None))
    if sum(1 for _, path in found if path is None) > 1:
        raise ValueError("only one report can go to standard output; give the others a file (-o FORMAT=FILE)")
    seen: dict[str, str] = {}
    for fmt, path in found:
        if path is None:
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise ValueError(f"-o {seen[key]} and -o {fmt}={path} write to the same file; give each report its own")
        seen[key] = f"{fmt}={path}"
    return found


def planned(args: argparse.Namespace) -> tuple[Outputs, float] | None:
    """The reports asked for (`outputs`) and when the run started (`started`); None after a usage error (said)."""
    try:
        return outputs(args), started()
    except ValueError as exc:
        print(f"podsec: error: {exc}", file=sys.stderr)
        return None


_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z


def started() -> float:
    """When the run started, for report timestamps: SOURCE_DATE_EPOCH (reproducible builds) or now."""
    text = os.environ.get("SOURCE_DATE_EPOCH")
    if not text:
        return time.time()
    if not (text.strip().isascii() and text.strip().isdigit()) or int(text) > _MAX_EPOCH:
        raise ValueError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01 UTC, not {text[:40]!r}")
    return float(int(text))


def bad_sarif_limit(args: argparse.Namespace) -> str | None:
    if args.sarif_max_results is not None and not 1 <= args.sarif_max_results <= SARIF_HARD_LIMIT:
        return f"--sarif-max-results must be between 1 and {SARIF_HARD_LIMIT:,}"
    return None


def reporters(
    stack: contextlib.ExitStack,
    wanted: Sequence[tuple[str, str | None]],
    run: RunInfo,
    *,
    no_color: bool,
    before: Callable[[str, TextIO], None] | None = None,
) -> list[Reporter]:
    """A reporter for each output (standard output or a file, colour only on a terminal); ``before``
    writes first to each output's stream. Every file is opened before anything is written (a bad
    path costs no scan): one that cannot be is an `OutputError`."""
    streams: dict[str, TextIO] = {}
    for fmt, path in wanted:
        if path is not None:
            try:
                file = open(path, "w", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115 - the stack closes it
                streams[path] = stack.enter_context(file)
            except OSError as exc:
                raise OutputError(f"-o {fmt}={path}: cannot write: {exc.strerror or exc}") from None
    made = []
    for fmt, path in wanted:
        stream = sys.stdout if path is None else streams[path]
        tty = path is None and sys.stdout.isatty()
        color = fmt in ("text", "concise") and tty and not no_color and "NO_COLOR" not in os.environ
        if before is not None:
            before(fmt, stream)
        made.append(REPORTERS[fmt](stream, replace(run, color=color)))
    return made


def open_reporters(
    wanted: Outputs,
    run: RunInfo,
    stack: contextlib.ExitStack,
    *,
    no_color: bool,
    before: Callable[[str, TextIO], None] | None = None,
) -> list[Reporter] | None:
    """`reporters`, or None when a file cannot be opened (said)."""
    try:
        return reporters(stack, wanted, run, no_color=no_color, before=before)
    except OutputError as exc:
        print(f"podsec: error: {exc}", file=sys.stderr)
        return None


def report(
    made: Sequence[Reporter], results: Iterable[FileResult], summary: Summary, progress: Progress | None = None
) -> None:
    """Count each result in ``summary`` and hand it to every reporter (the progress line follows)."""
    for result in results:
        summary.add(result)
        if progress is not None:
            progress.update(summary)
        for reporter in made:
            reporter.file(result)


def traced(results: Iterable[FileResult]) -> Iterator[FileResult]:
    """Each result, the tracebacks of its internal errors shown first (`show_tracebacks`)."""
    for result in results:
        show_tracebacks(result.errors)
        yield result


def show_tracebacks(errors: Iterable[InputError]) -> None:
    """With --debug, the traceback of each internal error (it travels with the error)."""
    for err in errors:
        if err.debug:
            sys.stderr.write(err.debug)


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


class Baselined:
    """The baseline side of a run (``--baseline``, ``--update-baseline``, the configuration's
    ``baseline``): results filtered by the accepted baseline, or every finding and input error
    gathered to write a new one (then none is matched against)."""

    def __init__(self, args: argparse.Namespace, config: Config) -> None:
        self.update: str | None = args.update_baseline
        self.file: str | None = None if self.update else (args.baseline or config.baseline)
        self.accepted: baseline.Baseline | None = None
        if self.file:
            try:
                self.accepted = baseline.load(self.file)
            except baseline.BaselineError as exc:
                raise ConfigError(str(exc)) from None
        else:
            self.file = None
        self.findings: list[Finding] = []
        self.errors: list[InputError] = []

    def filter(self, result: FileResult) -> FileResult:
        if self.accepted is not None:
            result = self.accepted.filter(result)
        if self.update:
            self.findings.extend(f for obj in result.objects for f in obj.findings)
            self.errors.extend(result.errors)
        return result

    def stale(self, summary: Summary, ran: set[str]) -> None:
        """The accepted entries no finding of the checks that ``ran`` matched, for the summary."""
        if self.accepted is not None:
            summary.stale = self.accepted.stale(ran)

    def exit_code(self, summary: Summary, fail_on: Severity | None) -> int:
        """The run's exit code; with --update-baseline, after writing the baseline file."""
        if self.update:
            return _update_baseline(self.update, self.findings, self.errors)
        return exit_code(summary, fail_on=fail_on)


def _update_baseline(path: str, findings: list[Finding], errors: list[InputError]) -> int:
    """Write every finding and input error of the run to the baseline file ``path``: exit 0, or 2
    for an error no baseline accepts (a path that does not exist, an overlay that does not build)."""
    try:
        count = baseline.write(findings, path, errors)
    except baseline.BaselineError as exc:
        print(f"podsec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"podsec: wrote {count} baseline entr{'y' if count == 1 else 'ies'} to {path}", file=sys.stderr)
    return EXIT_CLEAN if all(baseline.acceptable(e) for e in errors) else EXIT_ERROR
