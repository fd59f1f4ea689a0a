"""A private CA and a loopback server certificate for the emulator's HTTPS endpoint.

The CA is generated once per state directory and reused, so clients that already trust
``ca.pem`` keep working across restarts. The server certificate is re-issued when it is
missing, about to expire, or lacks a requested name.
"""

from __future__ import annotations

import datetime
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .. import certs
from .persistence import atomic_write

_CA_DAYS = 3650
_SERVER_DAYS = 365
_RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    ca_bundle: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))


def ensure_tls(directory: Path, hosts: list[str]) -> TlsFiles:
    """Create (or reuse) the CA and a server certificate valid for ``hosts``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca_cert=directory / "ca.pem",
        ca_bundle=directory / "ca-bundle.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
    )
    ca_key_path = directory / "ca-key.pem"
    fresh_ca = False
    if files.ca_cert.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{ca_key_path} is not an EC private key")
        ca_key = loaded
    else:
        ca_cert, ca_key = certs.new_ca("Foundry emulator local CA", days=_CA_DAYS)
        fresh_ca = True
        _write_key(ca_key_path, ca_key)
        atomic_write(files.ca_cert, certs.cert_pem(ca_cert))
    if fresh_ca or _server_cert_needs_renewal(files.server_cert, hosts):
        cert, key = certs.issue(
            ca_cert, ca_key, hosts[0], days=_SERVER_DAYS, server=True, hosts=hosts
        )
        _write_key(files.server_key, key)
        atomic_write(files.server_cert, certs.cert_pem(cert))
    atomic_write(files.ca_bundle, _bundle(files.ca_cert.read_bytes()))
    return files


def _bundle(ca_pem: bytes) -> bytes:
    """The emulator CA followed by the system roots.

    SSL_CERT_FILE and REQUESTS_CA_BUNDLE *replace* the trust store; appending the system
    roots keeps real HTTPS working in a shell that sourced the emulator's env file.
    """
    system = ssl.get_default_verify_paths().openssl_cafile
    try:
        extra = Path(system).read_bytes() if system else b""
    except OSError:
        extra = b""
    return ca_pem + (b"\n" + extra if extra else b"")


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    atomic_write(path, certs.key_pem(key))
    path.chmod(0o600)


def _server_cert_needs_renewal(path: Path, hosts: list[str]) -> bool:
    if not path.exists() or not path.with_name("server-key.pem").exists():
        return True
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.not_valid_after_utc - certs.now() < _RENEW_BEFORE:
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    return any(name not in san for name in certs.names(hosts))
