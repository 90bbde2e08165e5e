#!/usr/bin/env python3
"""Benchmark: podsec's full scan against a bare PyYAML CSafeLoader load of the same files.

    python benchmarks/scan_bench.py [PATH] [--repeat 3] [--copies 10] [--profile restricted]

PATH defaults to ../shared/corpus. Both sides run as fresh processes (interpreter
start-up included) and the best of --repeat wall times is kept. The bare side reads
every .yaml/.yml/.json file and runs yaml.load_all(data, Loader=yaml.CSafeLoader)
over it without keeping the documents. The podsec side is
`python -m podsec scan --format json --profile restricted PATH` (all checks).

Memory: the peak resident memory of podsec's whole process tree (main process and
workers, sampled from /proc every 10 ms) when scanning PATH once, and when scanning it
--copies times in one run (PATH given --copies times on the command line).
Targets (issue #2): time ratio <= 0.5; peak RSS for the copies <= 1.2x one copy.

Policies: the same scan with --policy (default: examples/policies, the Magalix example)
is timed in the same interleaved runs, and the policy's cost per object is measured
in-process over every object the scan shows it (target, issue #5: at most +25%).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "corpus"

BARE = r"""
import os, sys, yaml
docs = size = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    for f in sorted(files):
        if f.startswith(".") or not f.lower().endswith((".yaml", ".yml", ".json")):
            continue
        with open(os.path.join(root, f), "rb") as fh:
            data = fh.read()
        size += len(data)
        try:
            for _ in yaml.load_all(data, Loader=yaml.CSafeLoader):
                docs += 1
        except Exception:
            pass
print(docs, size)
"""


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            with open(f"/proc/{p}/task/{p}/children") as fh:
                stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


def timed(cmd: list[str], *, sample: bool = False) -> tuple[float, int, bytes]:
    """Wall time, peak tree RSS (KiB, when sampled) and stdout of one run."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            if sample:
                peak = max(peak, _tree_rss_kib(proc.pid))
            time.sleep(0.01)
        wall = time.perf_counter() - start
        if proc.returncode not in (0, 1, 2):
            raise SystemExit(f"{cmd[:4]} failed with exit code {proc.returncode}")
        out.seek(0)
        return wall, peak, out.read()


def policy_cost(path: str, policy: str) -> tuple[float, int]:
    """Seconds per object for evaluating ``policy`` on every object a scan shows it."""
    from podsec.model.workloads import KindTable
    from podsec.rego import policies
    from podsec.sources.files import Located, discover, read_objects, read_target

    kinds = KindTable()
    objects = []
    for target in discover([path]):
        data = read_target(target)
        if isinstance(data, bytes):
            objects += [o.obj for o in read_objects(data, target.name, kinds) if isinstance(o, Located)]
    objects = [o for o in objects if kinds.pod_sources(o)]
    rules = policies.load([policy])
    rules.evaluate(objects[0], None)  # build the engine outside the timing
    start = time.perf_counter()
    for obj in objects:
        rules.evaluate(obj, None)
    return (time.perf_counter() - start) / len(objects), len(objects)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--copies", type=int, default=10)
    ap.add_argument("--profile", default="restricted")
    ap.add_argument("--policy", default=str(ROOT / "examples" / "policies"), help="Rego policy to time ('' to skip)")
    args = ap.parse_args()
    if not os.path.isdir(args.path):
        print(f"no such directory: {args.path}", file=sys.stderr)
        return 2
    py = sys.executable
    scan = [py, "-m", "podsec", "scan", "--format", "json", "--profile", args.profile]
    bare_times, scan_times, policy_times = [], [], []
    docs = size = 0
    for _ in range(args.repeat):  # interleaved, so both sides see the same machine load
        wall, _, out = timed([py, "-c", BARE, args.path])
        bare_times.append(wall)
        docs, size = map(int, out.split())
        wall, _, _ = timed([*scan, args.path])
        scan_times.append(wall)
        if args.policy:
            wall, _, _ = timed([*scan, "--policy", args.policy, args.path])
            policy_times.append(wall)
    bare, full = min(bare_times), min(scan_times)
    _, rss_one, _ = timed([*scan, args.path], sample=True)
    wall_many, rss_many, _ = timed([*scan, *([args.path] * args.copies)], sample=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def runs(times: list[float]) -> str:
        return ", ".join(f"{t:.2f}" for t in times)

    def rate(seconds: float) -> str:
        return f"{seconds:6.2f} s  {docs / seconds:8,.0f} docs/s  {size / 1e6 / seconds:5.1f} MB/s"

    print(f"input: {args.path}: {docs:,} YAML documents, {size / 1e6:.1f} MB; {cores} usable cores")
    print(f"bare CSafeLoader load_all : {rate(bare)}  (runs: {runs(bare_times)})")
    print(f"podsec scan ({args.profile:10}): {rate(full)}  (runs: {runs(scan_times)})")
    print(f"ratio podsec / bare load  : {full / bare:6.2f}   (target <= 0.50)")
    if args.policy:
        with_policy = min(policy_times)
        per_object, objects = policy_cost(args.path, args.policy)
        print(f"podsec scan + policy      : {rate(with_policy)}  (runs: {runs(policy_times)})")
        print(f"policy overhead           : {100 * (with_policy / full - 1):+6.1f} %  (target <= +25 %)")
        print(f"policy cost per object    : {per_object * 1e6:6.1f} us over {objects:,} objects (in-process)")
    print(f"peak RSS, 1 copy          : {rss_one / 1024:6.1f} MiB (process tree)")
    ratio = rss_many / rss_one
    print(f"peak RSS, {args.copies} copies        : {rss_many / 1024:6.1f} MiB in {wall_many:.1f} s; ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
