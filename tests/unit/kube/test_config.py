"""Where the operator finds the API server and its credentials (kube/config.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from foundry_operator.kube import config
from foundry_operator.kube.leader import micro_time, parse_time, view_of

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _kubeconfig(path: Path, *, context: str = "dev", user: dict[str, object]) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": context,
        "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u", "namespace": "ns"}}],
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": "https://127.0.0.1:6443/",
                    "certificate-authority-data": base64.b64encode(CA).decode(),
                },
            }
        ],
        "users": [{"name": "u", "user": user}],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def test_kubeconfig_token_and_ca(tmp_path: Path) -> None:
    conn = config.from_kubeconfig([_kubeconfig(tmp_path / "kc", user={"token": "t0k"})])
    assert conn.server == "https://127.0.0.1:6443"
    assert conn.ca_pem == CA
    assert conn.namespace == "ns"
    creds = asyncio.run(conn.credentials())
    assert creds.authorization() == "Bearer t0k"


def test_first_kubeconfig_wins_and_relative_files_resolve_beside_it(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "client.crt").write_bytes(b"CERT")
    (tmp_path / "a" / "client.key").write_bytes(b"KEY")
    first = _kubeconfig(
        tmp_path / "a" / "kc",
        user={"client-certificate": "client.crt", "client-key": "client.key"},
    )
    second = _kubeconfig(tmp_path / "kc2", context="other", user={"token": "ignored"})
    conn = config.from_kubeconfig([first, second])
    assert conn.static.cert_pem == b"CERT"
    assert conn.static.key_pem == b"KEY"
    assert conn.static.token is None


def test_missing_context_names_the_files(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", context="nowhere", user={"token": "t"})
    with pytest.raises(config.ConfigError, match="no current context"):
        config.from_kubeconfig([path])


def test_missing_client_key_file_is_named(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path / "kc", user={"client-key": "absent.key"})
    with pytest.raises(config.ConfigError, match=r"absent\.key"):
        config.from_kubeconfig([path])


def test_token_file_is_read_again_on_each_use(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    conn = config.from_kubeconfig([_kubeconfig(tmp_path / "kc", user={"tokenFile": "token"})])
    assert asyncio.run(conn.credentials()).token == "one"
    token.write_text("two\n")  # a projected ServiceAccount token rotates in place
    assert asyncio.run(conn.credentials()).token == "two"


def _plugin(tmp_path: Path, expires: datetime) -> Path:
    """An exec credential plugin that counts its runs."""
    script = tmp_path / "plugin.py"
    status = {"token": "from-exec", "expirationTimestamp": expires.isoformat()}
    doc = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential"}
    script.write_text(
        "import json, pathlib, os\n"
        f"p = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "p.write_text(str(int(p.read_text() if p.exists() else 0) + 1))\n"
        "assert json.loads(os.environ['KUBERNETES_EXEC_INFO'])['kind'] == 'ExecCredential'\n"
        f"print(json.dumps({{**{doc!r}, 'status': {status!r}}}))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_exec_plugin_runs_once_until_its_credential_nears_expiry(tmp_path: Path) -> None:
    config.forget_exec_credentials()
    script = _plugin(tmp_path, datetime.now(UTC) + timedelta(hours=1))
    user = {"exec": {"command": sys.executable, "args": [str(script)]}}
    conn = config.from_kubeconfig([_kubeconfig(tmp_path / "kc", user=user)])

    async def twice() -> tuple[config.Credentials, config.Credentials]:
        return await conn.credentials(), await conn.credentials()

    first, second = asyncio.run(twice())
    assert first.authorization() == "Bearer from-exec"
    assert second == first
    assert (tmp_path / "runs").read_text() == "1"
    assert asyncio.run(config.kopf_login(conn))["expiration"] == first.expires


def test_expired_exec_credential_runs_the_plugin_again(tmp_path: Path) -> None:
    config.forget_exec_credentials()
    script = _plugin(tmp_path, datetime.now(UTC) + timedelta(seconds=30))  # inside the margin
    user = {"exec": {"command": sys.executable, "args": [str(script)]}}
    conn = config.from_kubeconfig([_kubeconfig(tmp_path / "kc", user=user)])
    asyncio.run(conn.credentials())
    asyncio.run(conn.credentials())
    assert (tmp_path / "runs").read_text() == "2"


def test_failing_exec_plugin_says_which_and_why(tmp_path: Path) -> None:
    config.forget_exec_credentials()
    user = {"exec": {"command": sys.executable, "args": ["-c", "import sys; sys.exit('denied')"]}}
    conn = config.from_kubeconfig([_kubeconfig(tmp_path / "kc", user=user)])
    with pytest.raises(config.ConfigError, match="exited 1: denied"):
        asyncio.run(conn.credentials())


def test_exec_output_without_status_is_refused() -> None:
    with pytest.raises(config.ConfigError, match="ExecCredential"):
        config.exec_credentials(
            json.dumps({"kind": "ExecCredential"}).encode(), config.Credentials()
        )


def test_in_cluster_without_a_token_explains(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(config, "SERVICE_ACCOUNT", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    with pytest.raises(config.ConfigError, match="ServiceAccount token"):
        config.in_cluster()
    (tmp_path / "token").write_text("sa")
    (tmp_path / "namespace").write_text("ops")
    conn = config.in_cluster()
    assert (conn.server, conn.namespace, conn.token_file) == (
        "https://10.0.0.1:443",
        "ops",
        tmp_path / "token",
    )


def test_lease_times_round_trip_as_microtime() -> None:
    now = datetime(2026, 12, 2, 1, 2, 3, 456789, tzinfo=UTC)
    assert micro_time(now) == "2026-12-02T01:02:03.456789Z"
    assert parse_time(micro_time(now)) == now
    view = view_of({"spec": {"holderIdentity": "a", "renewTime": micro_time(now)}}, 15)
    assert view is not None and (view.holder, view.renewed, view.duration_seconds) == ("a", now, 15)
    assert view_of(None, 15) is None
