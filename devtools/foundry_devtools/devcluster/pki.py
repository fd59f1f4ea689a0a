"""Certificates and keys for a loopback control plane.

Two CAs, as envtest does: one signs the API server's serving certificate, the other signs
client certificates (the admin user in ``system:masters``). A separate RSA key signs
service-account tokens. Everything is generated fresh for each new cluster directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .. import certs

_DAYS = 365


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


def write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def generate(pki: Pki) -> None:
    """Write a complete, fresh set of certificates and keys into ``pki.root``."""
    pki.root.mkdir(parents=True, exist_ok=True)
    serving_ca, serving_ca_key = certs.new_ca("foundry-devcluster-serving-ca", days=_DAYS)
    serving, serving_key = certs.issue(
        serving_ca,
        serving_ca_key,
        "kube-apiserver",
        days=_DAYS,
        server=True,
        # 10.0.0.1 is the first address of the service range: in-cluster clients use it.
        hosts=("127.0.0.1", "localhost", "10.0.0.1", "kubernetes", "kubernetes.default.svc"),
    )
    client_ca, client_ca_key = certs.new_ca("foundry-devcluster-client-ca", days=_DAYS)
    admin, admin_key = certs.issue(
        client_ca,
        client_ca_key,
        "devcluster-admin",
        days=_DAYS,
        server=False,
        org="system:masters",
    )
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    pki.serving_ca.write_bytes(certs.cert_pem(serving_ca))
    pki.serving_cert.write_bytes(certs.cert_pem(serving))
    write_private(pki.serving_key, certs.key_pem(serving_key))
    pki.client_ca.write_bytes(certs.cert_pem(client_ca))
    pki.admin_cert.write_bytes(certs.cert_pem(admin))
    write_private(pki.admin_key, certs.key_pem(admin_key))
    write_private(pki.sa_key, certs.key_pem(sa_key))
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
