"""Certificates and keys for a loopback control plane.

Two CAs, as envtest does: one signs the API server's serving certificate, the other signs
client certificates (the admin user in ``system:masters``). A separate RSA key signs
service-account tokens. Everything is generated fresh for each new cluster directory.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

_VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Pki:
    """Paths of the files a cluster directory's ``pki/`` holds."""

    root: Path

    @property
    def serving_ca(self) -> Path:
        return self.root / "serving-ca.crt"

    @property
    def serving_cert(self) -> Path:
        return self.root / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.root / "apiserver.key"

    @property
    def client_ca(self) -> Path:
        return self.root / "client-ca.crt"

    @property
    def admin_cert(self) -> Path:
        return self.root / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.root / "admin.key"

    @property
    def sa_key(self) -> Path:
        return self.root / "sa-signer.key"

    @property
    def sa_pub(self) -> Path:
        return self.root / "sa-signer.pub"

    def complete(self) -> bool:
        return all(
            p.exists()
            for p in (
                self.serving_ca,
                self.serving_cert,
                self.serving_key,
                self.client_ca,
                self.admin_cert,
                self.admin_key,
                self.sa_key,
                self.sa_pub,
            )
        )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def make_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    *,
    org: str | None = None,
    server: bool = False,
    hosts: tuple[str, ...] = (),
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A leaf certificate signed by ``ca``: a server one (with SANs) or a client one."""
    key = _key()
    now = datetime.datetime.now(datetime.UTC)
    usage = (
        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        if server
        else (x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH)
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, org))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if hosts:
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def generate(pki: Pki) -> None:
    """Write a complete, fresh set of certificates and keys into ``pki.root``."""
    pki.root.mkdir(parents=True, exist_ok=True)
    serving_ca, serving_ca_key = make_ca("foundry-devcluster-serving-ca")
    serving, serving_key = issue(
        serving_ca,
        serving_ca_key,
        "kube-apiserver",
        server=True,
        # 10.0.0.1 is the first address of the service range: in-cluster clients use it.
        hosts=("127.0.0.1", "localhost", "10.0.0.1", "kubernetes", "kubernetes.default.svc"),
    )
    client_ca, client_ca_key = make_ca("foundry-devcluster-client-ca")
    admin, admin_key = issue(client_ca, client_ca_key, "devcluster-admin", org="system:masters")
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    pki.serving_ca.write_bytes(_cert_pem(serving_ca))
    pki.serving_cert.write_bytes(_cert_pem(serving))
    write_private(pki.serving_key, _key_pem(serving_key))
    pki.client_ca.write_bytes(_cert_pem(client_ca))
    pki.admin_cert.write_bytes(_cert_pem(admin))
    write_private(pki.admin_key, _key_pem(admin_key))
    write_private(pki.sa_key, _key_pem(sa_key))
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
