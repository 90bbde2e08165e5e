"""Run a real Kubernetes API server (etcd + kube-apiserver, no nodes) on 127.0.0.1: ``scripts/kube-env``.

    scripts/kube-env                  start, print KUBECONFIG, run until Ctrl-C / SIGTERM, stop
    scripts/kube-env -- CMD ARGS...   start, run CMD with KUBECONFIG set, stop; exits with CMD's status

Builds the binaries first if needed (scripts/kube-tools; Go required). The server listens on a
free ephemeral port, with PodSecurity and ValidatingAdmissionPolicy on, --allow-privileged=true,
the ServiceAccount admission plugin off, and an audit log (audit.log beside the kubeconfig).
State lives in --dir (a fresh temporary directory by default, removed on exit).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile

from tests.kube import harness


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/kube-env", description="a real Kubernetes API server on 127.0.0.1")
    parser.add_argument("--dir", type=pathlib.Path, help="keep the server's state here (default: a temporary dir)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...: run this, then stop")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        bindir = harness.binaries(build=True)
    except harness.KubeUnavailable as exc:
        print(f"kube-env: {exc}", file=sys.stderr)
        return 3

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with tempfile.TemporaryDirectory(prefix="podsec-kube-") as tmp:
        env = harness.KubeEnv(bindir, args.dir or pathlib.Path(tmp))
        try:
            env.start()
            print(f"kube-env: API server at {env.url}", file=sys.stderr)
            print(f"export KUBECONFIG={env.kubeconfig}", flush=True)
            if command:
                environ = {**os.environ, "KUBECONFIG": str(env.kubeconfig), "PATH": f"{bindir}:{os.environ['PATH']}"}
                return subprocess.run(command, env=environ, check=False).returncode
            print("kube-env: running; Ctrl-C stops it", file=sys.stderr)
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            env.stop()
            print("kube-env: stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
