#!/usr/bin/env python3
"""``podsec audit`` and ``podsec monitor`` at scale, against a real API server on loopback.

    python benchmarks/cluster_bench.py [--pods 10000] [--workloads 2000] [--monitor-pods 50000]

Starts etcd and kube-apiserver (scripts/kube-tools builds them), then creates the cluster the
issue names: --workloads workloads (half Deployments, half their current ReplicaSets, as the
controllers would make them; one Deployment in ten with a privileged template) and --pods pods
owned by those ReplicaSets, spread over 20 namespaces; plus 20 CronJobs and 20 Deployments scaled
to zero. Then, same run, same server:

* ``kubectl get pods,replicasets,deployments -A -o json`` (what reading those objects costs at
  all, for a same-run ratio) and ``podsec audit -A`` end to end (process start to exit): wall
  time, API requests, peak RSS;
* ``podsec monitor`` with --monitor-pods pods in the cluster (more are created): its resident
  memory once ready, how long the first complete audit took, and the time from a change (a
  privileged Deployment created) to its metric (``podsec_namespace_enforceable_level``).

Objects are created over HTTP/2, 64 at a time. Everything is bounded: the server, the monitor and
kubectl are stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.kube import harness  # noqa: E402

NAMESPACES = 20
SPEC_OK = {
    "automountServiceAccountToken": False,
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "app", "image": "registry.example/app:1", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True}}],
}  # fmt: skip
SPEC_BAD = {"containers": [{"name": "app", "image": "registry.example/app:1", "securityContext": {"privileged": True}}]}


def _owner(obj: dict[str, Any]) -> list[dict[str, Any]]:
    m = obj["metadata"]
    return [{"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": m["name"], "uid": m["uid"],
             "controller": True}]  # fmt: skip


async def _create(env: harness.KubeEnv, items: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    import httpx

    limit = asyncio.Semaphore(64)
    headers = {"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"}
    async with httpx.AsyncClient(http2=True, verify=env.ssl_context("bulk"), base_url=env.url, timeout=120,
                                 limits=httpx.Limits(max_connections=2)) as client:  # fmt: skip

        async def one(path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with limit:
                for _ in range(5):
                    r = await client.post(path, json=body, headers=headers)
                    if r.status_code != 429:
                        break
                    await asyncio.sleep(1)
            if r.status_code != 201:
                raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")
            created = r.json()
            return {"apiVersion": body["apiVersion"], "kind": body["kind"], "metadata": created["metadata"]}

        return list(await asyncio.gather(*(one(p, b) for p, b in items)))


def _template(spec: dict[str, Any], app: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}}, "spec": spec}


def populate(env: harness.KubeEnv, deployments: int, pods: int, prefix: str) -> None:
    """``deployments`` Deployments, each with a current ReplicaSet, and ``pods`` pods among them."""
    namespaces = [f"{prefix}-{i}" for i in range(NAMESPACES)]
    asyncio.run(_create(env, [("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": n}}) for n in namespaces]))  # fmt: skip
    made = []
    for i in range(deployments):
        ns, name = namespaces[i % NAMESPACES], f"app{i}"
        spec = SPEC_BAD if i % 10 == 0 else SPEC_OK
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": _template(spec, name)},
        }
        made.append((f"/apis/apps/v1/namespaces/{ns}/deployments", body))  # fmt: skip
    ds = asyncio.run(_create(env, made))
    sets = []
    for d in ds:
        m = d["metadata"]
        spec = SPEC_BAD if int(m["name"][3:]) % 10 == 0 else SPEC_OK
        body = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": m["name"] + "-5d9c7", "namespace": m["namespace"], "ownerReferences": _owner(d)},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": m["name"]}},
                         "template": _template(spec, m["name"])}}  # fmt: skip
        sets.append((f"/apis/apps/v1/namespaces/{m['namespace']}/replicasets", body))
    rss = asyncio.run(_create(env, sets))
    batch = 5000
    for start in range(0, pods, batch):
        items = []
        for i in range(start, min(pods, start + batch)):
            rs = rss[i % len(rss)]
            m = rs["metadata"]
            app = m["name"].rsplit("-", 1)[0]
            spec = SPEC_BAD if int(app[3:]) % 10 == 0 else SPEC_OK
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{m['name']}-{i}", "namespace":
                    m["namespace"], "labels": {"app": app}, "ownerReferences": _owner(rs)}, "spec": spec}  # fmt: skip
            items.append((f"/api/v1/namespaces/{m['namespace']}/pods", body))
        asyncio.run(_create(env, items))


def extras(env: harness.KubeEnv, prefix: str) -> None:
    """CronJobs between runs and Deployments scaled to zero: templates only."""
    items = []
    for i in range(20):
        ns = f"{prefix}-{i % NAMESPACES}"
        job = {"template": {"spec": {"restartPolicy": "Never", **SPEC_OK}}}
        items.append((f"/apis/batch/v1/namespaces/{ns}/cronjobs", {"apiVersion": "batch/v1", "kind": "CronJob",
                      "metadata": {"name": f"cron{i}", "namespace": ns},
                      "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": job}}}))  # fmt: skip
        items.append((f"/apis/apps/v1/namespaces/{ns}/deployments", {"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": f"idle{i}", "namespace": ns},
                      "spec": {"replicas": 0, "selector": {"matchLabels": {"app": f"idle{i}"}},
                               "template": _template(SPEC_BAD, f"idle{i}")}}))  # fmt: skip
    asyncio.run(_create(env, items))


WRAP = (
    "import resource, subprocess, sys\n"
    "r = subprocess.run(sys.argv[1:], stdout=open(1, 'wb', closefd=False), stderr=subprocess.DEVNULL)\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(u.ru_maxrss, u.ru_utime + u.ru_stime, r.returncode, file=sys.stderr)\n"
)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, subprocess.CompletedProcess[bytes]]:
    """Wall seconds, peak RSS (MiB) and CPU seconds of ``cmd`` alone (run by a wrapper process of its
    own, so that other children's peaks do not count), and the result."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", WRAP, *cmd], env=env, capture_output=True, timeout=600, check=False)
    wall = time.perf_counter() - started
    peak, cpu, code = result.stderr.decode().split()[-3:]
    result.returncode = int(code)
    return wall, int(peak) / 1024, float(cpu), result


def rss_mib(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def metric(url: str, name: str) -> float | None:
    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def monitor_run(env: harness.KubeEnv, child_env: dict[str, str], prefix: str) -> dict[str, float]:
    log = env.workdir / "monitor.log"
    cmd = [sys.executable, "-m", "podsec", "monitor", "--listen", "127.0.0.1:0", "--debounce", "0.5",
           "--qps", "200", "--burst", "400"]  # fmt: skip
    with log.open("wb") as err:
        proc = subprocess.Popen(cmd, env=child_env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        url, started = "", time.monotonic()
        while not url and time.monotonic() - started < 60:
            for line in log.read_text().splitlines():
                if '"serving"' in line:
                    url = "http://" + json.loads(line)["address"]
            time.sleep(0.1)
        ready = None
        while time.monotonic() - started < 600:
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=5) as r:
                    if r.status == 200 and metric(url, "podsec_objects"):
                        ready = time.monotonic() - started
                        break
            except OSError:
                pass
            time.sleep(0.2)
        time.sleep(3)
        settled = rss_mib(proc.pid)
        objects = metric(url, "podsec_objects") or 0
        evaluations = metric(url, "podsec_evaluations_total") or 0
        ns = f"{prefix}-probe"
        asyncio.run(_create(env, [("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": ns}})]))  # fmt: skip
        level = f'podsec_namespace_enforceable_level{{namespace="{ns}"}}'
        deadline = time.monotonic() + 60
        while metric(url, level) != 2.0 and time.monotonic() < deadline:  # an empty namespace: restricted
            time.sleep(0.05)
        body = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "probe", "namespace": ns},
                "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                    "restartPolicy": "Never", "hostPID": True, **SPEC_OK}}}}}}  # fmt: skip
        changed = time.perf_counter()
        asyncio.run(_create(env, [(f"/apis/batch/v1/namespaces/{ns}/cronjobs", body)]))
        latency = None
        while time.perf_counter() - changed < 60:
            if metric(url, level) == 0.0:  # hostPID: not even baseline
                latency = time.perf_counter() - changed
                break
            time.sleep(0.02)
        return {"ready": ready or -1, "rss": settled, "objects": objects, "evaluations": evaluations,
                "latency": latency or -1, "peak": rss_mib(proc.pid)}  # fmt: skip
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--workloads", type=int, default=2_000, help="Deployments + ReplicaSets (half each)")
    parser.add_argument("--monitor-pods", type=int, default=50_000, help="0: no monitor measurement")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="podsec-cluster-bench-") as tmp, harness.running(pathlib.Path(tmp)) as env:
        return measure(env, args)


def measure(env: harness.KubeEnv, args: argparse.Namespace) -> int:
    child = {**os.environ, "KUBECONFIG": str(env.kubeconfig)}
    t = time.perf_counter()
    populate(env, args.workloads // 2, args.pods, "bench")
    extras(env, "bench")
    print(f"created {args.pods:,} pods, {args.workloads:,} workloads, 20 CronJobs, 20 idle Deployments "
          f"in {time.perf_counter() - t:.0f} s")  # fmt: skip
    kubectl = [str(env.kubectl_path), "get", "pods,replicasets,deployments,cronjobs", "-A", "-o", "json",
               "--chunk-size=500"]  # fmt: skip
    audit = [sys.executable, "-m", "podsec", "audit", "-A", "--format", "json", "--fail-on", "none",
             "--qps", "200", "--burst", "400"]  # fmt: skip
    rows = []
    for _ in range(args.runs):
        k_wall, _, k_cpu, _ = timed(kubectl, child)
        a_wall, a_rss, a_cpu, a = timed(audit, child)
        if a.returncode != 0:
            print(a.stderr.decode()[-2000:], file=sys.stderr)
            return 1
        rows.append((k_wall, a_wall, a_rss, json.loads(a.stdout), k_cpu, a_cpu))
    best = min(rows, key=lambda r: r[1])
    report = best[3]
    requests = report["cluster"]["requests"]["sent"]
    read = sum(r["read"] for r in report["cluster"]["resources"])
    evaluated = sum(r["evaluated"] for r in report["cluster"]["resources"])
    print(f"kubectl get (same objects) : {min(r[0] for r in rows):6.2f} s  (runs: "
          f"{', '.join(f'{r[0]:.2f}' for r in rows)})")  # fmt: skip
    print(f"podsec audit -A end to end : {best[1]:6.2f} s  (runs: {', '.join(f'{r[1]:.2f}' for r in rows)}; "
          f"target <= 5 s)")  # fmt: skip
    print(f"ratio audit / kubectl get  : {best[1] / min(r[0] for r in rows):6.2f}")
    print(f"CPU seconds audit, kubectl : {min(r[5] for r in rows):6.2f} s, {min(r[4] for r in rows):.2f} s "
          f"(user + system; the API server's not counted)")  # fmt: skip
    print(f"load average               : {os.getloadavg()[0]:.1f} (2 cores, shared)")
    print(f"objects read / evaluated   : {read:,} / {evaluated:,}; reported: {report['summary']['objects']:,}")
    print(f"API requests               : {requests:,}")
    print(f"peak RSS (audit)           : {max(r[2] for r in rows):6.1f} MiB")
    if args.monitor_pods:
        more = max(0, args.monitor_pods - args.pods)
        if more:
            t = time.perf_counter()
            populate(env, args.workloads // 2, more, "more")
            print(f"created {more:,} more pods in {time.perf_counter() - t:.0f} s")
        m = monitor_run(env, child, "bench")
        print(f"monitor, {args.monitor_pods:,} pods: ready in {m['ready']:.1f} s, "
              f"{m['objects']:,.0f} objects tracked, {m['evaluations']:,.0f} evaluated")  # fmt: skip
        print(f"monitor resident memory    : {m['rss']:6.1f} MiB once ready ({m['peak']:.1f} MiB after a "
              f"change; target <= 256 MiB)")  # fmt: skip
        print(f"change -> metric           : {m['latency']:6.2f} s (debounce 0.5 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
