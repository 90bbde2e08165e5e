"""podsec's webhook server wired into the test API server (URL client configs, the generated CA).

``PodsecWebhook.start`` runs ``podsec webhook serve`` on a free port of 127.0.0.1 with a
certificate for that address, reading namespace labels from the API server (the kubeconfig);
``register`` creates the Validating and Mutating webhook configurations that ``podsec webhook
manifests`` generates, with ``clientConfig.url`` instead of the in-cluster Service and a
namespace selector limited to namespaces labelled ``podsec-e2e=<id>`` (other tests share the
API server).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from podsec.admission import certs, manifests
from tests.kube.harness import KubeEnv, free_port

SELECTOR_LABEL = "podsec-e2e"


@dataclass
class PodsecWebhook:
    kube: KubeEnv
    workdir: pathlib.Path
    id: str = field(default_factory=lambda: secrets.token_hex(3))
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    configurations: list[tuple[str, str]] = field(default_factory=list)  # (API path, name)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def labels(self) -> dict[str, str]:
        return {SELECTOR_LABEL: self.id}

    def start(self, config: str = "webhook: {}\n") -> None:
        tls = self.workdir / "tls"
        if not (tls / "tls.crt").exists():
            certs.generate(str(tls), extra_hosts=("127.0.0.1",))
        (self.workdir / "podsec.yaml").write_text(config)
        self.port = free_port()
        log = open(self.workdir / "webhook.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "podsec", "webhook", "serve", "--tls-cert", str(tls / "tls.crt"),
             "--tls-key", str(tls / "tls.key"), "--config", str(self.workdir / "podsec.yaml"),
             "--host", "127.0.0.1", "--port", str(self.port), "--shutdown-delay", "0", "--graceful-seconds", "2"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "KUBECONFIG": str(self.kube.kubeconfig)},
        )  # fmt: skip
        log.close()
        context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # ready: certificate loaded and the namespace cache synced
            if self.proc.poll() is not None:
                raise RuntimeError(f"podsec webhook exited: {(self.workdir / 'webhook.log').read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2, context=context) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        raise TimeoutError("podsec webhook not ready in 30 s")

    def stop(self) -> None:
        """SIGTERM to the server, then SIGKILL to whatever is left of its process group (its workers)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def configuration_objects(self, *, failure_policy: str = "Fail") -> list[dict[str, Any]]:
        """podsec's generated webhook configurations, pointed at this server and these namespaces."""
        ca = (self.workdir / "tls" / "ca.crt").read_bytes()
        docs = manifests.objects(
            manifests.Options(image="podsec:test", tls="secret", ca_bundle=ca, failure_policy=failure_policy)
        )
        out = []
        for doc in docs:
            if doc["kind"] not in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"):
                continue
            doc["metadata"]["name"] = f"podsec-e2e-{self.id}"
            for hook in doc["webhooks"]:
                path = hook["clientConfig"]["service"]["path"]
                hook["clientConfig"] = {"url": self.url + path, "caBundle": hook["clientConfig"]["caBundle"]}
                selector = hook.setdefault("namespaceSelector", {})
                selector.setdefault("matchLabels", {}).update(self.labels)
            out.append(doc)
        assert len(out) == 2, [d["kind"] for d in docs]
        return out

    def register(self, *, failure_policy: str = "Fail") -> None:
        """Create the configurations, and wait until the API server calls podsec with them."""
        for doc in self.configuration_objects(failure_policy=failure_policy):
            path = f"/apis/admissionregistration.k8s.io/v1/{doc['kind'].lower()}s"
            status, body, _ = self.kube.request("POST", path, doc)
            if status != 201:
                raise RuntimeError(f"cannot register {doc['kind']}: {status} {body}")
            self.configurations.append((path, doc["metadata"]["name"]))
        # The API server loads webhook configurations asynchronously: probe until a pod podsec
        # denies is denied by podsec.
        probe_ns = self.kube.create_namespace({**self.labels, "podsec.io/enforce": "baseline"}, prefix="probe")
        probe = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
                 "spec": {"hostPID": True, "containers": [{"name": "c", "image": "i"}]}}  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, body, _ = self.kube.request("POST", f"/api/v1/namespaces/{probe_ns}/pods?dryRun=All", probe)
            if status == 403 and "pods.validate.podsec.io" in str(body):
                return
            time.sleep(0.2)
        raise TimeoutError("the API server did not start calling podsec's webhook in 30 s")

    def unregister(self) -> None:
        for path, name in self.configurations:
            self.kube.request("DELETE", f"{path}/{name}")
        self.configurations.clear()
