"""Certificates and keys for a loopback control plane.

Two CAs, as envtest does: one signs the API server's serving certificate, the other signs
client certificates (the admin user in ``system:masters``). A separate RSA key signs
service-account tokens. Everything is generated fresh for each new cluster directory.

The CA keys are kept beside their certificates so that ``start --node`` can issue, later,
the identities a node needs (:func:`generate_node`): the kubelet's client and serving
certificates, the controller manager's, the scheduler's and the API server's client
certificate for the kubelet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

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
    def serving_ca_key(self) -> Path:
        return self.root / "serving-ca.key"

    @property
    def client_ca(self) -> Path:
        return self.root / "client-ca.crt"

    @property
    def client_ca_key(self) -> Path:
        return self.root / "client-ca.key"

    def client(self, name: str) -> tuple[Path, Path]:
        """Certificate and key of one of the node's client identities (see NODE_CLIENTS)."""
        return self.root / f"{name}.crt", self.root / f"{name}.key"

    @property
    def kubelet_serving(self) -> tuple[Path, Path]:
        return self.root / "kubelet-serving.crt", self.root / "kubelet-serving.key"

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
    write_private(pki.serving_ca_key, certs.key_pem(serving_ca_key))
    pki.client_ca.write_bytes(certs.cert_pem(client_ca))
    write_private(pki.client_ca_key, certs.key_pem(client_ca_key))
    pki.admin_cert.write_bytes(certs.cert_pem(admin))
    write_private(pki.admin_key, certs.key_pem(admin_key))
    write_private(pki.sa_key, certs.key_pem(sa_key))
    pki.sa_pub.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


# Client identities of a node's components: file stem -> (user, group). The users are the
# ones Kubernetes' bootstrap RBAC and the Node authorizer know.
NODE_NAME = "devcluster-node"
NODE_CLIENTS = {
    "kubelet": (f"system:node:{NODE_NAME}", "system:nodes"),
    "kube-controller-manager": ("system:kube-controller-manager", None),
    "kube-scheduler": ("system:kube-scheduler", None),
    # The API server calling the kubelet (logs, exec, port-forward).
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", "system:masters"),
}


def _load_ca(cert: Path, key: Path) -> tuple[x509.Certificate, certs.Key]:
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key} is not an EC key")
    return x509.load_pem_x509_certificate(cert.read_bytes()), loaded


def node_complete(pki: Pki, node_ip: str) -> bool:
    """True when the node's certificates exist and the kubelet's covers ``node_ip``."""
    files = [p for name in NODE_CLIENTS for p in pki.client(name)] + list(pki.kubelet_serving)
    if not all(p.exists() for p in files):
        return False
    serving = x509.load_pem_x509_certificate(pki.kubelet_serving[0].read_bytes())
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return all(name in san for name in certs.names([node_ip]))


def generate_node(pki: Pki, node_ip: str) -> None:
    """Issue the node's identities from the cluster's CAs (kept by :func:`generate`)."""
    if not (pki.client_ca_key.exists() and pki.serving_ca_key.exists()):
        raise ValueError(
            f"{pki.root} has no CA keys (made before `--node` existed): use a new --dir"
        )
    client_ca, client_ca_key = _load_ca(pki.client_ca, pki.client_ca_key)
    serving_ca, serving_ca_key = _load_ca(pki.serving_ca, pki.serving_ca_key)
    for name, (user, group) in NODE_CLIENTS.items():
        cert, key = certs.issue(client_ca, client_ca_key, user, days=_DAYS, server=False, org=group)
        cert_path, key_path = pki.client(name)
        cert_path.write_bytes(certs.cert_pem(cert))
        write_private(key_path, certs.key_pem(key))
    cert, key = certs.issue(
        serving_ca,
        serving_ca_key,
        NODE_NAME,
        days=_DAYS,
        server=True,
        hosts=(node_ip, "127.0.0.1", NODE_NAME),
    )
    pki.kubelet_serving[0].write_bytes(certs.cert_pem(cert))
    write_private(pki.kubelet_serving[1], certs.key_pem(key))
