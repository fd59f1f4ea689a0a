"""Where the API server is and how to authenticate to it: in a pod, or from a kubeconfig.

One loader for both kopf (through its login handler) and the operator's own requests, so
the two always talk to the same server as the same identity. Supported: the pod's
ServiceAccount (its token file is re-read, as projected tokens rotate), and kubeconfig
clusters with CA file/data or insecure-skip-tls-verify, users with a token, token file,
client certificate (file or data), basic auth or an exec credential plugin (what AKS's
kubelogin and EKS's aws-cli use); kubeconfig lists in $KUBECONFIG are merged, the first
value winning, as kubectl does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# Credentials from an exec plugin are renewed this long before they expire.
_EXPIRY_MARGIN = timedelta(seconds=60)


class ConfigError(Exception):
    """The kubeconfig or the pod's ServiceAccount cannot be used; the message says why."""


@dataclass(frozen=True)
class ExecPlugin:
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"


@dataclass(frozen=True)
class Credentials:
    """What goes with each request; ``expires`` is None when it does not expire."""

    token: str | None = None
    basic: tuple[str, str] | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    expires: datetime | None = None

    def authorization(self) -> str | None:
        if self.token:
            return f"Bearer {self.token}"
        if self.basic:
            raw = f"{self.basic[0]}:{self.basic[1]}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        return None


@dataclass(frozen=True)
class Connection:
    server: str
    ca_pem: bytes | None = None
    insecure: bool = False
    namespace: str | None = None
    # Static parts of the user; token_file and exec are read again when they may change.
    static: Credentials = field(default_factory=Credentials)
    token_file: Path | None = None
    exec_plugin: ExecPlugin | None = None

    async def credentials(self) -> Credentials:
        creds = self.static
        if self.token_file is not None:
            token = await asyncio.to_thread(self.token_file.read_text, encoding="utf-8")
            creds = Credentials(token.strip() or None, creds.basic, creds.cert_pem, creds.key_pem)
        if self.exec_plugin is not None:
            creds = await run_exec(self.exec_plugin, creds)
        return creds


def load() -> Connection:
    """In a pod: the ServiceAccount. Elsewhere: $KUBECONFIG (or ~/.kube/config)."""
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster()
    return from_kubeconfig()


def in_cluster() -> Connection:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    token = SERVICE_ACCOUNT / "token"
    if not host or not token.exists():
        raise ConfigError(
            "not in a pod with a ServiceAccount token: KUBERNETES_SERVICE_HOST is unset or "
            f"{token} is missing (set automountServiceAccountToken, or use a kubeconfig)"
        )
    ca = SERVICE_ACCOUNT / "ca.crt"
    namespace = SERVICE_ACCOUNT / "namespace"
    server_host = f"[{host}]" if ":" in host else host
    return Connection(
        server=f"https://{server_host}:{port}",
        ca_pem=ca.read_bytes() if ca.exists() else None,
        namespace=namespace.read_text(encoding="utf-8").strip() if namespace.exists() else None,
        token_file=token,
    )


def _kubeconfig_paths() -> list[Path]:
    value = os.environ.get("KUBECONFIG", "")
    paths = [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]
    return paths or [Path("~/.kube/config").expanduser()]


def _named(items: Any, what: str, path: Path) -> dict[str, dict[str, Any]]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise ConfigError(f"{path}: {what} must be a list")
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            body = item.get(what.rstrip("s")) or {}
            out.setdefault(item["name"], body if isinstance(body, dict) else {})
    return out


def _pem(data: Any, file: Any, base: Path, what: str) -> bytes | None:
    if data:
        try:
            return base64.b64decode(str(data))
        except ValueError:
            raise ConfigError(f"{what}-data is not base64") from None
    if file:
        path = Path(str(file)).expanduser()
        path = path if path.is_absolute() else base / path
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{what} {path}: {exc.strerror}") from None
    return None


def from_kubeconfig(paths: list[Path] | None = None) -> Connection:
    paths = paths or _kubeconfig_paths()
    current: str | None = None
    contexts: dict[str, dict[str, Any]] = {}
    clusters: dict[str, dict[str, Any]] = {}
    users: dict[str, dict[str, Any]] = {}
    bases: dict[tuple[str, str], Path] = {}
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"kubeconfig {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"kubeconfig {path} is not YAML: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"kubeconfig {path} is not a mapping")
        current = current or doc.get("current-context")
        for name, body in _named(doc.get("contexts"), "contexts", path).items():
            contexts.setdefault(name, body)
        for name, body in _named(doc.get("clusters"), "clusters", path).items():
            clusters.setdefault(name, body)
            bases.setdefault(("cluster", name), path.parent)
        for name, body in _named(doc.get("users"), "users", path).items():
            users.setdefault(name, body)
            bases.setdefault(("user", name), path.parent)
    if not current or current not in contexts:
        raise ConfigError(f"kubeconfig {os.pathsep.join(map(str, paths))}: no current context")
    context = contexts[current]
    cluster_name, user_name = str(context.get("cluster", "")), str(context.get("user", ""))
    if cluster_name not in clusters:
        raise ConfigError(f"kubeconfig context {current!r}: cluster {cluster_name!r} not found")
    cluster = clusters[cluster_name]
    user = users.get(user_name, {})
    cluster_base = bases.get(("cluster", cluster_name), Path.cwd())
    user_base = bases.get(("user", user_name), Path.cwd())
    server = str(cluster.get("server", "")).rstrip("/")
    if not server:
        raise ConfigError(f"kubeconfig cluster {cluster_name!r} has no server")
    basic = (str(user["username"]), str(user.get("password", ""))) if user.get("username") else None
    token_file = user.get("tokenFile")
    plugin = user.get("exec")
    return Connection(
        server=server,
        ca_pem=_pem(
            cluster.get("certificate-authority-data"),
            cluster.get("certificate-authority"),
            cluster_base,
            "certificate-authority",
        ),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        namespace=context.get("namespace"),
        static=Credentials(
            token=user.get("token") or None,
            basic=basic,
            cert_pem=_pem(
                user.get("client-certificate-data"),
                user.get("client-certificate"),
                user_base,
                "client-certificate",
            ),
            key_pem=_pem(
                user.get("client-key-data"), user.get("client-key"), user_base, "client-key"
            ),
        ),
        token_file=(user_base / str(token_file)) if token_file else None,
        exec_plugin=_exec_plugin(plugin) if isinstance(plugin, dict) else None,
    )


def _exec_plugin(spec: dict[str, Any]) -> ExecPlugin:
    command = spec.get("command")
    if not command:
        raise ConfigError("kubeconfig user exec has no command")
    env = tuple(
        (str(e["name"]), str(e.get("value", "")))
        for e in spec.get("env") or []
        if isinstance(e, dict) and "name" in e
    )
    return ExecPlugin(
        str(command),
        tuple(str(a) for a in spec.get("args") or []),
        env,
        str(spec.get("apiVersion") or ExecPlugin.api_version),
    )


_exec_cache: dict[ExecPlugin, Credentials] = {}


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time as the API server writes it (Z or an offset); None if unreadable."""
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def exec_credentials(output: bytes, fallback: Credentials) -> Credentials:
    """The ExecCredential a plugin printed, merged over the kubeconfig's static parts."""
    try:
        doc = json.loads(output)
        status = doc["status"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError("the exec credential plugin printed no ExecCredential status") from None
    cert, key = status.get("clientCertificateData"), status.get("clientKeyData")
    return Credentials(
        token=status.get("token") or fallback.token,
        basic=fallback.basic,
        cert_pem=cert.encode() if cert else fallback.cert_pem,
        key_pem=key.encode() if key else fallback.key_pem,
        expires=parse_time(status.get("expirationTimestamp")),
    )


async def run_exec(plugin: ExecPlugin, fallback: Credentials) -> Credentials:
    cached = _exec_cache.get(plugin)
    now = datetime.now(UTC)
    if cached is not None and (cached.expires is None or cached.expires - _EXPIRY_MARGIN > now):
        return cached
    info = {
        "apiVersion": plugin.api_version,
        "kind": "ExecCredential",
        "spec": {"interactive": False},
    }
    env = {**os.environ, **dict(plugin.env), "KUBERNETES_EXEC_INFO": json.dumps(info)}
    try:
        proc = await asyncio.create_subprocess_exec(
            plugin.command,
            *plugin.args,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ConfigError(f"exec credential plugin {plugin.command!r}: {exc.strerror}") from None
    out, err = await proc.communicate()
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise ConfigError(
            f"exec credential plugin {plugin.command!r} exited {proc.returncode}: {tail[0]}"
        )
    creds = exec_credentials(out, fallback)
    _exec_cache[plugin] = creds
    return creds


def forget_exec_credentials() -> None:
    """After a 401: the next request runs the plugin again."""
    _exec_cache.clear()


async def kopf_login(conn: Connection) -> dict[str, Any]:
    """The keyword arguments of the ``kopf.ConnectionInfo`` for this connection (kopf
    asks again, through its login handler, when the credentials expire or get a 401)."""
    creds = await conn.credentials()
    return {
        "server": conn.server,
        "ca_data": conn.ca_pem,
        "insecure": conn.insecure or None,
        "username": creds.basic[0] if creds.basic else None,
        "password": creds.basic[1] if creds.basic else None,
        "token": creds.token,
        "certificate_data": creds.cert_pem,
        "private_key_data": creds.key_pem,
        "default_namespace": conn.namespace,
        "expiration": creds.expires,
    }
