"""A real Kubernetes control plane on loopback for tests: etcd and kube-apiserver, no nodes.

Built from their Go modules by ``scripts/kube-tools`` (cached outside the work tree, keyed by
version); started with envtest's flags plus what podsec's tests need: PodSecurity and
ValidatingAdmissionPolicy (on by default), ``--allow-privileged=true``, the ServiceAccount
admission plugin off (no controller creates ``default`` service accounts here), and an
audit log of pod and workload requests at Metadata level, so audit annotations can be read.
Ports are free ephemeral ones on 127.0.0.1 (other developers run servers on this machine
too); a start that loses a port race is retried. Authentication is a client certificate in
``system:masters``; ``kubeconfig`` is written for kubectl.

Used by the pytest fixtures (``tests/kube/fixtures.py``) and by ``scripts/kube-env``.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]
KUBE_TOOLS = ROOT / "scripts" / "kube-tools"
PSA_ORACLE = ROOT / "tools" / "psa-oracle"

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None  # bulk dry runs (dry_run_many): thousands of requests, nothing to audit
  users: [podsec-bulk]
- level: Metadata
  resources:
  - {group: "", resources: [pods, pods/ephemeralcontainers, replicationcontrollers, podtemplates]}
  - {group: apps}
  - {group: batch}
- level: None
"""


class KubeUnavailable(RuntimeError):
    """The binaries cannot be had here (no Go, and nothing cached)."""


def go_available() -> bool:
    return shutil.which("go") is not None


def binaries(*, build: bool = True) -> pathlib.Path:
    """The directory holding kube-apiserver, kube-controller-manager, kubectl and etcd, building them if
    needed and allowed."""
    if not go_available():
        raise KubeUnavailable("Go is not installed, so kube-apiserver and etcd cannot be built")
    cmd = "build" if build else "dir"
    out = subprocess.run([str(KUBE_TOOLS), cmd], check=True, stdout=subprocess.PIPE, text=True).stdout
    path = pathlib.Path(out.strip().splitlines()[-1])
    if not (path / ".complete").exists():
        raise KubeUnavailable(f"the Kubernetes binaries are not built (run {KUBE_TOOLS} build)")
    return path


def psa_oracle(cache: pathlib.Path) -> pathlib.Path:
    """PSA's library as a command (tools/psa-oracle), built once per go.sum into ``cache``."""
    if not go_available():
        raise KubeUnavailable("Go is not installed, so the PSA oracle cannot be built")
    stamp = _digest((PSA_ORACLE / "go.sum").read_bytes() + (PSA_ORACLE / "main.go").read_bytes())
    target = cache / f"psa-oracle-{stamp}"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")  # another run may build the same at once
        env = {
            **os.environ,
            "CGO_ENABLED": "0",
            "GOFLAGS": os.environ.get("GOFLAGS", "-p=2") + " -mod=readonly -trimpath",
        }
        subprocess.run(["go", "build", "-o", str(tmp), "."], cwd=PSA_ORACLE, check=True, env=env)
        tmp.replace(target)
    return target


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so no server outlives a killed run."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def client_cert(directory: pathlib.Path, user: str, file: str, groups: Sequence[str] = ()) -> tuple[str, str]:
    """A client certificate for ``user`` in ``groups``, signed by ca.crt: (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from podsec.admission import certs

    ca_cert, ca_key = certs.load_ca(str(directory))
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            *(x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups),
            x509.NameAttribute(NameOID.COMMON_NAME, user),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    crt, pem = directory / f"{file}.crt", directory / f"{file}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(crt), str(pem)


def _client_certs(directory: pathlib.Path) -> None:
    """Client certificates in ``system:masters``, signed by ca.crt: ``admin`` (admin.crt/key) and
    ``podsec-bulk`` (bulk.crt/key, left out of the audit log); and the service-account signing key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    for user, file in (("admin", "admin"), ("podsec-bulk", "bulk")):
        client_cert(directory, user, file, ("system:masters",))
    sa = ec.generate_private_key(ec.SECP256R1())  # service-account token signing
    (directory / "sa.key").write_bytes(
        sa.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    (directory / "sa.pub").write_bytes(
        sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@dataclass
class KubeEnv:
    """etcd and kube-apiserver in ``workdir``, from the binaries in ``bindir``."""

    bindir: pathlib.Path
    workdir: pathlib.Path
    extra_flags: Sequence[str] = ()
    port: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> pathlib.Path:
        return self.workdir / "kubeconfig"

    @property
    def audit_log(self) -> pathlib.Path:
        return self.workdir / "audit.log"

    @property
    def ca(self) -> pathlib.Path:
        return self.workdir / "pki" / "ca.crt"

    @property
    def client_cert(self) -> tuple[str, str]:
        pki = self.workdir / "pki"
        return str(pki / "admin.crt"), str(pki / "admin.key")

    @property
    def kubectl_path(self) -> pathlib.Path:
        return self.bindir / "kubectl"

    def start(self, timeout: float = 120.0) -> None:
        from podsec.admission import certs

        self.workdir.mkdir(parents=True, exist_ok=True)
        pki = self.workdir / "pki"
        certs.generate(str(pki), service="kube-apiserver", namespace="default", extra_hosts=("127.0.0.1", "localhost"))
        _client_certs(pki)
        (self.workdir / "audit-policy.yaml").write_text(AUDIT_POLICY)
        last: Exception | None = None
        for _attempt in range(3):  # a port taken between choosing and binding: choose again
            try:
                self._start_etcd()
                self._start_apiserver(timeout)
                self._write_kubeconfig()
                return
            except (RuntimeError, TimeoutError) as exc:
                last = exc
                self.stop()
        raise RuntimeError(f"the API server did not start: {last}")

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self.processes.append(proc)
        return proc

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        data = self.workdir / "etcd"
        shutil.rmtree(data, ignore_errors=True)
        self._etcd = f"http://127.0.0.1:{client}"
        proc = self._spawn(
            "etcd",
            [
                str(self.bindir / "etcd"),
                f"--data-dir={data}",
                f"--listen-client-urls={self._etcd}",
                f"--advertise-client-urls={self._etcd}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {proc.returncode}; see {self.workdir / 'etcd.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(self._etcd + "/health", timeout=2) as r:
                if json.loads(r.read()).get("health") == "true":
                    return
            time.sleep(0.1)
        raise TimeoutError("etcd did not become healthy in 30 s")

    def _start_apiserver(self, timeout: float) -> None:
        pki = self.workdir / "pki"
        self.port = free_port()
        proc = self._spawn(
            "kube-apiserver",
            [
                str(self.bindir / "kube-apiserver"),
                f"--etcd-servers={self._etcd}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={pki}",
                f"--tls-cert-file={pki / 'tls.crt'}",
                f"--tls-private-key-file={pki / 'tls.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                "--authorization-mode=RBAC",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--disable-admission-plugins=ServiceAccount",
                f"--service-account-issuer=https://127.0.0.1:{self.port}/",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--audit-policy-file={self.workdir / 'audit-policy.yaml'}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-mode=blocking",
                "--profiling=false",
                "--endpoint-reconciler-type=none",
                *self.extra_flags,
            ],
        )
        context = self.ssl_context()
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"kube-apiserver exited with {proc.returncode}; see {self.workdir / 'kube-apiserver.log'}"
                )
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=5, context=context) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError) as exc:
                last = str(exc)
            time.sleep(0.25)
        raise TimeoutError(f"kube-apiserver was not ready in {timeout:.0f} s ({last})")

    def ssl_context(self, user: str = "admin") -> ssl.SSLContext:
        """TLS for requests as ``admin``, or as ``bulk`` (not audited)."""
        context = ssl.create_default_context(cafile=str(self.ca))
        pki = self.workdir / "pki"
        context.load_cert_chain(str(pki / f"{user}.crt"), str(pki / f"{user}.key"))
        return context

    def _write_kubeconfig(self) -> None:
        cert, key = self.client_cert
        self.kubeconfig.write_text(self.kubeconfig_text(cert, key))

    def kubeconfig_text(self, cert: str, key: str, server: str | None = None) -> str:
        """A kubeconfig (context podsec-test) for this server, or ``server`` (a proxy in front of it)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "podsec-test",
                    "cluster": {"server": server or self.url, "certificate-authority": str(self.ca)},
                }
            ],
            "users": [{"name": "admin", "user": {"client-certificate": cert, "client-key": key}}],
            "contexts": [{"name": "podsec-test", "context": {"cluster": "podsec-test", "user": "admin"}}],
            "current-context": "podsec-test",
        }
        return json.dumps(config, indent=2)

    def start_controllers(self, *controllers: str) -> None:
        """Run kube-controller-manager with only ``controllers`` (``clusterrole-aggregation``, …) against
        this server, as admin, serving nothing; it is stopped with the server. Once per server and set
        of controllers (tests asking for other controllers get a manager of their own)."""
        wanted = f"--controllers={','.join(controllers)}"
        if any(isinstance(p.args, list) and wanted in map(str, p.args) for p in self.processes):
            return
        self._spawn(
            "kube-controller-manager",
            [
                str(self.bindir / "kube-controller-manager"),
                f"--kubeconfig={self.kubeconfig}",
                wanted,
                "--leader-elect=false",
                "--secure-port=0",
            ],
        )

    def stop(self) -> None:
        """Stop the API server, then etcd (SIGTERM, then SIGKILL after 15 s)."""
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.processes.clear()

    # --- using it ---------------------------------------------------------------------------

    def kubectl(
        self, *args: str, input: str | bytes | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run the matching kubectl against this server; stdout and stderr as text."""
        data = input.decode() if isinstance(input, bytes) else input
        return subprocess.run(
            [str(self.kubectl_path), f"--kubeconfig={self.kubeconfig}", *args],
            input=data,
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
            env={k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
        )

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any, list[str]]:
        """One API call: (HTTP status, decoded JSON body, Warning headers' texts)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.ssl_context()) as r:
                return r.status, json.loads(r.read() or b"null"), warning_texts(r.headers.get_all("Warning") or [])
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None, warning_texts(exc.headers.get_all("Warning") or [])

    def create_namespace(self, labels: Mapping[str, str] | None = None, *, prefix: str = "t") -> str:
        """A new namespace with a unique name and these labels; its name."""
        name = f"{prefix}-{secrets.token_hex(4)}"
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}}
        status, answer, _ = self.request("POST", "/api/v1/namespaces", body)
        if status != 201:
            raise RuntimeError(f"cannot create namespace {name}: {status} {answer}")
        return name

    def audit_events(self) -> Iterator[dict[str, Any]]:
        """The audit log's events so far."""
        if not self.audit_log.exists():
            return
        with self.audit_log.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


def warning_texts(headers: Sequence[str]) -> list[str]:
    """The texts of ``Warning: 299 - "text"`` headers (RFC 7234 quoting undone)."""
    texts = []
    for header in headers:
        parts = header.split(" ", 2)
        if len(parts) == 3 and parts[2].startswith('"'):
            text = parts[2]
            end = text.rfind('"')
            texts.append(text[1:end].replace('\\"', '"').replace("\\\\", "\\"))
    return texts


@contextlib.contextmanager
def running(workdir: pathlib.Path, *, build: bool = True, extra_flags: Sequence[str] = ()) -> Iterator[KubeEnv]:
    env = KubeEnv(binaries(build=build), workdir, extra_flags)
    env.start()
    try:
        yield env
    finally:
        env.stop()


def dry_run_many(
    env: KubeEnv,
    requests: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    concurrency: int = 48,
    strict: bool = False,
    whole: bool = False,
) -> list[tuple[int, Any, list[str]]]:
    """POST each (collection path, object) with ``dryRun=All``, many at a time over one HTTP/2
    connection; (status, JSON body, warnings) for each, in order. Bounded: ``concurrency`` in flight.
    ``strict``: unknown and duplicate fields are errors (``fieldValidation=Strict``, kubectl's default).
    ``whole``: a created object comes back whole (as the API server defaulted it), not its metadata."""
    params = {"dryRun": "All", **({"fieldValidation": "Strict"} if strict else {})}
    # Only the metadata of a created object comes back unless asked (errors are Status objects as
    # ever): a fraction of the bytes to encode, send and decode.
    headers = {"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"}
    if whole:
        headers = {"Accept": "application/json"}
    import asyncio

    import httpx

    async def run() -> list[tuple[int, Any, list[str]]]:
        limit = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(
            http2=True, verify=env.ssl_context("bulk"), base_url=env.url, timeout=60,
            limits=httpx.Limits(max_connections=2),
        ) as client:  # fmt: skip

            async def one(path: str, body: Mapping[str, Any]) -> tuple[int, Any, list[str]]:
                async with limit:
                    r = await client.post(path, params=params, json=body, headers=headers)
                return r.status_code, r.json() if r.content else None, warning_texts(r.headers.get_list("warning"))

            return await asyncio.gather(*(one(p, b) for p, b in requests))

    return asyncio.run(run())
