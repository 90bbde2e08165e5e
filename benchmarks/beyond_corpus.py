"""The analyses beyond the pod on a corpus: the counts the README gives.

Runs the three commands as a user would, each once on PATH (default ``../shared/corpus``), and
prints what they found:

- ``podsec scan --select defaultDenyIngress,defaultDenyEgress,allowAllIngress,allowAllEgress,
  podSecurityPolicy``: namespaces without a default deny, rules that allow everything, PSPs;
- ``podsec rbac``: who can run privileged pods, exec, escalate or impersonate, and where;
- ``podsec psp``: each PodSecurityPolicy's level, the mutating ones, the namespaces advised.

The namespaces the input holds and the network policies in it are also counted from the pure
analysis (`podsec.analysis.netpol` over every object of the corpus), and the namespaces it finds
without a default deny must be those the scan reported: the script fails when they differ.

    .venv/bin/python benchmarks/beyond_corpus.py [PATH]
"""

from __future__ import annotations

import argparse
import collections
import json
import pathlib
import subprocess
import sys
from typing import Any

from podsec.analysis import netpol
from podsec.beyond import CLUSTER_SCOPED
from podsec.model.workloads import KindTable
from podsec.sources.files import Located, Walk, read_objects, read_target

ROOT = pathlib.Path(__file__).resolve().parent.parent
PODSEC = [sys.executable, "-m", "podsec"]
NETWORK_CHECKS = "defaultDenyIngress,defaultDenyEgress,allowAllIngress,allowAllEgress,podSecurityPolicy"


def _json(*args: str) -> dict[str, Any]:
    done = subprocess.run([*PODSEC, *args], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1, 2) or not done.stdout:
        raise SystemExit(f"podsec {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def _analysis(path: str) -> tuple[int, collections.Counter[str], dict[str, set[str]]]:
    """Namespaces, network policy objects by kind, and namespaces without a deny per direction."""
    kinds = KindTable()
    infos: dict[str, netpol.NamespaceInfo] = {}
    policies: list[netpol.PolicyFacts] = []
    counted: collections.Counter[str] = collections.Counter()
    for target in Walk([path]):
        data = read_target(target)
        if not isinstance(data, bytes):
            continue
        for item in read_objects(data, target.name, kinds, every=True):
            if not isinstance(item, Located):
                continue
            obj = item.obj
            kind, meta = obj.get("kind"), obj.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            if kind == "Namespace" and obj.get("apiVersion") == "v1" and isinstance(meta.get("name"), str):
                labels = meta.get("labels")
                labels = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
                infos[meta["name"]] = netpol.NamespaceInfo(meta["name"], labels)
            elif isinstance(kind, str) and kind not in CLUSTER_SCOPED and not kind.endswith("List"):
                ns = meta.get("namespace")
                if isinstance(ns, str) and ns and ns not in infos:
                    infos[ns] = netpol.NamespaceInfo(ns, None)
            policy = netpol.read_policy(obj)
            if policy is not None and not policy.problems:
                counted[str(kind)] += 1
                policies.append(policy)
    open_: dict[str, set[str]] = {d: set() for d in netpol.DIRECTIONS}
    for iso in netpol.isolation(list(infos.values()), policies):
        for d in netpol.DIRECTIONS:
            if not iso.denials(d):
                open_[d].add(str(iso.namespace.name))
    return len(infos), counted, open_


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=str(ROOT.parent / "shared" / "corpus"))
    path = parser.parse_args().path

    scan = _json("scan", "--select", NETWORK_CHECKS, "--format", "json", path)
    by_check = collections.Counter(f["check"] for f in scan["findings"])
    lacking = {
        d: {f["object"]["name"] for f in scan["findings"] if f["check"] == check}
        for d, check in zip(netpol.DIRECTIONS, ("defaultDenyIngress", "defaultDenyEgress"), strict=True)
    }
    total, policy_kinds, open_ = _analysis(path)
    print(f"scan: {scan['summary']['files']:,} files, {scan['summary']['documents']:,} documents")
    print(f"  namespaces in the input: {total:,}")
    print(f"  network policy objects: {sum(policy_kinds.values()):,} ({dict(sorted(policy_kinds.items()))})")
    for d in netpol.DIRECTIONS:
        print(f"  namespaces with a default deny of {d}: {total - len(lacking[d]):,} of {total:,}")
    for check in ("defaultDenyIngress", "defaultDenyEgress", "allowAllIngress", "allowAllEgress", "podSecurityPolicy"):
        print(f"  {check}: {by_check[check]:,} findings")
    print(f"  input errors: {scan['summary']['errors']:,} (files the API server would refuse or that do not parse)")

    rbac = _json("rbac", "--format", "json", path)
    section = rbac["rbac"]
    print(f"rbac: {len(section['namespaces']):,} namespaces, {section['defaultRoles']} default ClusterRoles assumed")
    for check, n in sorted(collections.Counter(f["check"] for f in rbac["findings"]).items()):
        print(f"  {check}: {n:,} findings")
    runners = section["privileged"]
    everywhere = sum(1 for r in runners if r["everyUnlabelledNamespace"])
    places = {n for r in runners for n in r["namespaces"]}
    print(f"  subjects who can run a privileged pod: {len(runners):,} ({everywhere:,} in every unlabelled namespace)")
    print(f"  namespaces where someone named in the input can: {len(places):,}")
    enforce = collections.Counter(n["enforce"] for n in section["namespaces"])
    print(f"  namespaces by enforce level (privileged: labelled so, or unlabelled): {dict(sorted(enforce.items()))}")
    print(f"  input errors: {rbac['summary']['errors']:,}")

    psp = _json("psp", "--format", "json", path)
    levels = collections.Counter(p["level"] for p in psp["policies"])
    mutating = sum(1 for p in psp["policies"] if p["mutates"])
    used = sum(1 for p in psp["policies"] if p["usedBy"])
    print(f"psp: {len(psp['policies'])} PodSecurityPolicies: {dict(sorted(levels.items()))}")
    print(f"  mutating: {mutating}; granted to someone by the input's RBAC: {used}")
    advised = [r for r in psp["namespaces"] if r["level"] is not None]
    print(f"  namespaces given a label to use instead: {len(advised)}")

    if open_ != lacking:
        print("the scan's namespaces without a default deny differ from the analysis':", file=sys.stderr)
        for d in netpol.DIRECTIONS:
            print(f"  {d}: scan only {sorted(lacking[d] - open_[d])[:5]}, analysis only "
                  f"{sorted(open_[d] - lacking[d])[:5]}", file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
