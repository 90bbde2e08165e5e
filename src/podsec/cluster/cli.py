"""``podsec audit``: its options, and its outcome turned into ``podsec scan``'s reports.

Each namespace stands where a file stands in a scan (``k8s://<context>/namespaces/<ns>``), each
object's findings carry its URI instead of a file and line, and the cluster's own part — what
was read, what could not be, and every namespace's readiness — goes into the JSON report under
``cluster`` and into the text report as a table.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

from podsec import outputs
from podsec.cluster import api as kube
from podsec.cluster import audit, psaconfig
from podsec.cluster.readiness import Readiness
from podsec.config import Config
from podsec.evaluation import evaluation, run_info
from podsec.findings import EXIT_ERROR, FileResult, InputError, Summary, exit_code
from podsec.model.standards import PolicyVersion
from podsec.reporters.base import RunInfo

MAX_TEXT_BLOCKERS = 5
"""Blocking objects the text report names per namespace (the JSON report has every one)."""


def _bad_numbers(args: argparse.Namespace) -> str | None:
    if args.qps <= 0 or args.burst < 1:
        return "--qps must be positive and --burst at least 1"
    if not 1 <= args.page_size <= 10_000:
        return "--page-size must be between 1 and 10,000"
    if args.request_timeout <= 0:
        return "--request-timeout must be positive"
    if args.namespaces and args.all_namespaces:
        return "-n and -A cannot be used together"
    if args.readiness_version is not None and args.readiness_version.minor is None:
        return "--readiness-version needs an explicit version such as v1.33"
    return None


def run(args: argparse.Namespace, config: Config) -> int:
    problem = _bad_numbers(args) or outputs.bad_sarif_limit(args)
    if problem:
        print(f"podsec: error: {problem}", file=sys.stderr)
        return EXIT_ERROR
    planned = outputs.planned(args)
    if planned is None:
        return EXIT_ERROR
    wanted, started = planned
    try:
        psa = psaconfig.load(args.psa_config) if args.psa_config else psaconfig.PsaConfig()
    except ValueError as exc:  # a PsaConfigError, or any other bad value in it
        print(f"podsec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        http, target = kube.connect(args.kubeconfig, args.context, timeout=args.request_timeout)
    except kube.ClusterError as exc:
        print(f"podsec: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    client = kube.Api(http, target, qps=args.qps, burst=args.burst, retry_seconds=args.request_timeout)
    with contextlib.closing(client):
        return _audit(args, config, client, psa, wanted, started)


def _audit(
    args: argparse.Namespace,
    config: Config,
    client: kube.Api,
    psa: psaconfig.PsaConfig,
    wanted: outputs.Outputs,
    started: float,
) -> int:
    target = client.target
    try:
        _latest_as_served(args, config, client)
    except kube.ClusterError as exc:
        print(f"podsec: error: cannot audit {target.context} ({target.server}): {exc}", file=sys.stderr)
        return EXIT_ERROR
    ev = evaluation(args, config)
    if ev is None:
        return EXIT_ERROR
    namespaces = None if args.all_namespaces else tuple(dict.fromkeys(args.namespaces or [target.namespace]))
    options = audit.Options(namespaces, args.page_size, psa, args.readiness_version)
    try:
        outcome = audit.audit(client, ev.ctx, options)
    except kube.ClusterError as exc:  # not even the server's version or discovery could be read
        print(f"podsec: error: cannot audit {target.context} ({target.server}): {exc}", file=sys.stderr)
        return EXIT_ERROR
    written: dict[str, Any] | None = None
    if args.write_reports:
        from podsec.cluster import reports

        written = reports.write(client, outcome, run_info(args, config, ev, started), passes=not args.reports_fail_only)
    info = run_info(args, config, ev, started, inputs=("namespace", "namespaces"))
    summary = Summary(notes=list(config.notes))
    summary.sections["cluster"] = cluster_section(outcome, client, psa, written)
    summary.text.append(readiness_table(outcome.readiness))
    summary.text.append(cluster_line(outcome, client))
    if not _report(outcome, summary, wanted, info, no_color=args.no_color):
        return EXIT_ERROR
    for note in summary.notes:
        print(f"podsec: note: {note}", file=sys.stderr)
    if outcome.partial:
        print(
            f"podsec: error: the audit is partial: {len(outcome.problems)} problem(s), see the report", file=sys.stderr
        )
    code = exit_code(summary, fail_on=ev.fail_on)
    for problem in (written or {}).get("errors", []):
        print(f"podsec: error: cannot write a report: {problem}", file=sys.stderr)
    if written and written.get("errors"):
        code = EXIT_ERROR  # reports asked for and not written: said, and not a clean run
    return code


def _latest_as_served(args: argparse.Namespace, config: Config, client: kube.Api) -> None:
    """Unless the options or the configuration say what "latest" is, it means what it means to the
    cluster's own PSA: its version (read from the server)."""
    if args.latest_is is None and config.latest_is is None:
        args.latest_is = PolicyVersion(audit.server_version(client)[1][1])


def _report(outcome: audit.Outcome, summary: Summary, wanted: outputs.Outputs, run: RunInfo, *, no_color: bool) -> bool:
    """Write the reports asked for (False, said, when a report file cannot be opened)."""
    with contextlib.ExitStack() as stack:
        reporters = outputs.open_reporters(wanted, run, stack, no_color=no_color)
        if reporters is None:
            return False
        outputs.report(reporters, outputs.traced(file_results(outcome)), summary)
        for reporter in reporters:
            reporter.finish(summary)
    return True


def file_results(outcome: audit.Outcome) -> list[FileResult]:
    """One result per namespace audited (in order; an empty one too), and one for the cluster's
    own objects and for what could not be read."""
    ctx = outcome.context
    results: list[FileResult] = []
    extra = [n for n in [*outcome.reported, *outcome.beyond] if n and n not in outcome.namespaces]
    for namespace in [*outcome.namespaces, *dict.fromkeys(extra)]:
        found = sorted(outcome.reported.get(namespace, []), key=audit.sort_key)
        objects = [r.result for r in found] + outcome.beyond.get(namespace, [])
        results.append(FileResult(audit.object_uri(ctx, "", namespace).rstrip("/"), objects))
    cluster = [r.result for r in sorted(outcome.reported.get(None, []), key=audit.sort_key)]
    cluster += outcome.beyond.get(None, [])
    if cluster or outcome.problems:
        errors: list[InputError] = list(outcome.problems)
        results.append(FileResult(f"k8s://{ctx}", cluster, errors, read=bool(cluster)))
    return results


def cluster_section(
    outcome: audit.Outcome, client: kube.Api, psa: psaconfig.PsaConfig, written: dict[str, Any] | None
) -> dict[str, Any]:
    """The ``cluster`` part of the JSON report."""
    return {
        "context": outcome.context,
        "server": outcome.server,
        "serverVersion": outcome.version,
        "partial": outcome.partial,
        "namespaces": outcome.namespaces,
        "resources": [
            {
                "resource": r.name,
                "apiVersion": r.api_version,
                "kind": r.kind,
                **vars_of(outcome.counts.get(r.name)),
            }
            for r in outcome.resources
        ],
        "notServed": outcome.unserved,
        "problems": [e.as_dict() for e in outcome.problems],
        "readiness": [r.as_dict() for r in outcome.readiness],
        "psaConfig": psa.as_dict() if psa.source else None,
        "requests": {"sent": client.requests, "throttled": client.throttled, "retried": client.retried},
        "seconds": round(outcome.seconds, 3),
        **({"reportsWritten": written} if written is not None else {}),
    }


def vars_of(count: audit.KindCount | None) -> dict[str, int]:
    if count is None:
        return {"read": 0, "evaluated": 0, "reported": 0}
    return {"read": count.read, "evaluated": count.evaluated, "reported": count.reported}


def cluster_line(outcome: audit.Outcome, client: kube.Api) -> str:
    read = sum(c.read for c in outcome.counts.values())
    kinds = len(outcome.resources)
    line = (
        f"cluster {outcome.context} ({outcome.server}, {outcome.version}): {read:,} objects of {kinds} kinds read "
        f"with {client.requests:,} requests in {outcome.seconds:.1f} s"
    )
    if outcome.partial:
        line += f"; PARTIAL: {len(outcome.problems)} problem(s) kept part of the cluster from being read"
    return line + "\n"


def _cell(r: Readiness) -> tuple[str, ...]:
    p = r.policy
    modes = tuple(f"{p.mode(m).profile}:{p.mode(m).version}" for m in ("enforce", "audit", "warn"))
    if r.exempt:
        return (r.namespace, *modes, "exempt", "", "", "")
    can = str(r.enforceable)
    nxt = r.next_level
    blocking = f"{len(r.blockers.get(nxt, ()))} block {nxt}" if nxt else ""
    return (r.namespace, *modes, can, "drift" if r.drift else "", blocking, str(len(r.breaking)) if r.breaking else "")


def readiness_table(readiness: list[Readiness]) -> str:
    """Namespace readiness as a table, then what blocks each namespace and how to move it up."""
    if not readiness:
        return ""
    head = ("NAMESPACE", "ENFORCE", "AUDIT", "WARN", "CAN ENFORCE", "DRIFT", "NEXT LEVEL", "WOULD BREAK")
    rows = [head, *(_cell(r) for r in readiness)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    out = ["Namespace readiness (Pod Security Admission, pinned at " + str(readiness[0].pinned) + ")\n"]
    out += ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n" for row in rows]
    for r in readiness:
        notes = []
        if r.breaking:
            notes.append(f"    enforced level {r.enforce.profile}:{r.enforce.version} denies what already runs here:\n")
            notes += _blockers(r.breaking)
        if r.next_level and r.blockers.get(r.next_level):
            notes.append(f"    blocks {r.next_level}:{r.pinned}:\n")
            notes += _blockers(r.blockers[r.next_level])
        if r.command():
            notes.append(f"    move up: {r.command()}\n")
        if notes:
            out.append(f"  {r.namespace}:\n" + "".join(notes))
    return "\n" + "".join(out) + "\n"


def _blockers(found: Any) -> list[str]:
    lines = [
        f"      {b.ref}{' (template)' if b.template else ''}"
        f"{f', {b.pods} running pod' + ('s' if b.pods != 1 else '') if b.pods else ''}: {b.reason}\n"
        for b in found[:MAX_TEXT_BLOCKERS]
    ]
    if len(found) > MAX_TEXT_BLOCKERS:
        lines.append(f"      ... and {len(found) - MAX_TEXT_BLOCKERS} more (the json report has every one)\n")
    return lines
