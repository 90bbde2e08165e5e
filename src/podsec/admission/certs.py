"""``podsec webhook cert``: a private CA and a serving certificate for the webhook Service.

The serving certificate names ``<service>.<namespace>.svc`` (what the API server checks)
and the other in-cluster spellings; the CA goes into the webhook configurations'
``caBundle``. ECDSA P-256, CA valid ten years, serving certificate one year by default.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True, slots=True)
class Written:
    ca_cert: str
    cert: str
    key: str


def dns_names(service: str, namespace: str) -> list[str]:
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate(
    directory: str,
    *,
    service: str = "podsec-webhook",
    namespace: str = "podsec",
    days: int = 365,
    extra_hosts: tuple[str, ...] = (),
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
) -> Written:
    """Write ca.crt, ca.key, tls.crt and tls.key into ``directory`` (a new CA unless ``ca`` is given)."""
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    if ca is None:
        ca_key = _key()
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"podsec webhook CA ({namespace})")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
    else:
        ca_cert, ca_key = ca
    key = _key()
    names: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names(service, namespace)]
    for host in extra_hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{service}.{namespace}.svc")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    os.makedirs(directory, exist_ok=True)
    paths = Written(*(os.path.join(directory, n) for n in ("ca.crt", "tls.crt", "tls.key")))
    _write(paths.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(os.path.join(directory, "ca.key"), _pem_key(ca_key), private=True)
    # key first, then certificate: a reloader that sees the new certificate finds its key
    _write(paths.key, _pem_key(key), private=True)
    _write(paths.cert, cert.public_bytes(serialization.Encoding.PEM))
    return paths


class CertError(Exception):
    """A CA that cannot be used; the message says which file and why."""


def load_ca(directory: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA in ``directory`` (ca.crt and ca.key, as `generate` writes them); raises `CertError`."""
    paths = [os.path.join(directory, name) for name in ("ca.crt", "ca.key")]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise CertError(
            f"no CA to reuse in {directory} ({', '.join(missing)} not found); run without --reuse-ca to create one"
        )
    try:
        with open(paths[0], "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
        with open(paths[1], "rb") as fh:
            key = serialization.load_pem_private_key(fh.read(), password=None)
    except OSError as exc:
        raise CertError(f"cannot read the CA in {directory}: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise CertError(f"the CA in {directory} is not a PEM certificate and unencrypted key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertError(f"{paths[1]}: expected an ECDSA key (as podsec webhook cert writes)")
    return cert, key


def _write(path: str, data: bytes, *, private: bool = False) -> None:
    """Write a file atomically (a reader sees the old file or the new one, never half of one)."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
