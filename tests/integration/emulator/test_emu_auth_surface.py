"""Authentication, api-version, the identity endpoint and the files the emulator writes."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from azure.ai.projects import AIProjectClient
from azure.ai.projects.models import CodeConfiguration, HostedAgentDefinition
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import DefaultAzureCredential
from emu_helpers import hosted_definition

from foundry_devtools.emulator.admin import AdminClient, AdminError
from foundry_devtools.emulator.process import EmulatorProcess

pytestmark = pytest.mark.integration


class StaticCredential:
    """A TokenCredential with a fixed token: what a misconfigured client would send."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, 2_000_000_000)


def raw(
    url: str, emulator: EmulatorProcess, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    context = ssl.create_default_context(cafile=str(emulator.ca_file))
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)


def test_a_missing_bearer_token_is_a_401_with_the_envelope(emulator: EmulatorProcess) -> None:
    status, body, headers = raw(f"{emulator.endpoint}/agents?api-version=v1", emulator)
    assert status == 401
    assert body["error"]["code"] == "Unauthorized"
    assert set(body["error"]) >= {"code", "message", "param", "type", "details"}
    assert headers["WWW-Authenticate"].startswith("Bearer")


def test_a_foreign_token_is_refused_by_the_sdk(emulator_env: dict[str, str]) -> None:
    with (
        AIProjectClient(
            endpoint=emulator_env["AZURE_AI_PROJECT_ENDPOINT"],
            credential=StaticCredential("eyJ.not.ours"),
        ) as client,
        pytest.raises(ClientAuthenticationError) as caught,
    ):
        client.agents.get("anything")
    assert caught.value.status_code == 401


def test_a_token_for_another_audience_is_refused(
    emulator: EmulatorProcess, admin: AdminClient
) -> None:
    token = admin.token("https://management.azure.com")
    status, body, _ = raw(
        f"{emulator.endpoint}/agents?api-version=v1", emulator, {"Authorization": f"Bearer {token}"}
    )
    assert status == 401 and "audience" in body["error"]["message"]


def test_api_version_is_required(emulator: EmulatorProcess, admin: AdminClient) -> None:
    token = admin.token()
    status, body, _ = raw(
        f"{emulator.endpoint}/agents", emulator, {"Authorization": f"Bearer {token}"}
    )
    assert status == 400
    assert body["error"]["message"] == "Missing required query parameter: api-version"
    assert body["error"]["param"] == "api-version"


def test_an_unknown_api_version_is_a_400_through_the_sdk(emulator_env: dict[str, str]) -> None:
    credential = DefaultAzureCredential()
    with (
        AIProjectClient(
            endpoint=emulator_env["AZURE_AI_PROJECT_ENDPOINT"],
            credential=credential,
            api_version="2025-11-15-preview",
        ) as client,
        pytest.raises(HttpResponseError) as caught,
    ):
        client.agents.get("anything")
    assert caught.value.status_code == 400
    assert caught.value.error is not None
    assert caught.value.error.code == "unsupported_api_version"


def test_another_project_name_is_not_found(emulator: EmulatorProcess, admin: AdminClient) -> None:
    url = emulator.endpoint.rsplit("/", 1)[0] + "/elsewhere/agents?api-version=v1"
    status, body, _ = raw(url, emulator, {"Authorization": f"Bearer {admin.token()}"})
    assert status == 404 and body["error"]["param"] == "project"


def test_the_identity_endpoint_wants_the_identity_header(emulator: EmulatorProcess) -> None:
    url = (
        f"{emulator.env['IDENTITY_ENDPOINT']}?api-version=2019-08-01&resource=https://ai.azure.com"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(urllib.request.Request(url, headers={"X-IDENTITY-HEADER": "wrong"}))
    assert caught.value.code == 401
    good = urllib.request.Request(
        url, headers={"X-IDENTITY-HEADER": emulator.env["IDENTITY_HEADER"]}
    )
    with opener.open(good) as response:
        body = json.loads(response.read())
    assert body["token_type"] == "Bearer" and body["expires_on"].isdigit()


def test_default_azure_credential_gets_an_emulator_token(
    emulator_env: dict[str, str], admin: AdminClient
) -> None:
    before = admin.stats().count("token", 200)
    credential = DefaultAzureCredential()
    token = credential.get_token("https://ai.azure.com/.default")
    assert token.token.startswith("femu1.")
    assert admin.stats().count("token", 200) == before + 1


def test_env_file_and_emulator_json_describe_the_running_emulator(
    emulator: EmulatorProcess,
) -> None:
    env_file = emulator.state_dir / "env"
    script = f". {env_file} && env"
    printed = subprocess.run(
        ["sh", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    sourced = dict(line.split("=", 1) for line in printed.splitlines() if "=" in line)
    for key in (
        "AZURE_AI_PROJECT_ENDPOINT",
        "REQUESTS_CA_BUNDLE",
        "SSL_CERT_FILE",
        "CURL_CA_BUNDLE",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
    ):
        assert sourced[key] == emulator.env[key], key
    assert sourced["AZURE_AI_PROJECT_ENDPOINT"] == (
        f"https://127.0.0.1:{emulator.port}/api/projects/local"
    )
    assert sourced["IDENTITY_ENDPOINT"].startswith("http://127.0.0.1:")
    info = json.loads((emulator.state_dir / "emulator.json").read_text())
    assert info["pid"] == emulator.pid
    assert (info["port"], info["endpoint"], info["admin_url"]) == (
        emulator.port,
        emulator.endpoint,
        emulator.admin_url,
    )
    assert Path(info["ca_file"]).read_text().startswith("-----BEGIN CERTIFICATE-----")


def test_curl_trusts_the_emulator_through_the_env_file(
    emulator: EmulatorProcess, admin: AdminClient
) -> None:
    if subprocess.run(["sh", "-c", "command -v curl"], capture_output=True).returncode:
        pytest.skip("curl is not installed")
    token = admin.token()
    script = (
        f'. {emulator.state_dir / "env"} && curl -sS -H "Authorization: Bearer {token}" '
        f'"$AZURE_AI_PROJECT_ENDPOINT/agents?api-version=v1&limit=1"'
    )
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["object"] == "list"


def test_the_https_side_also_serves_the_admin_api(emulator: EmulatorProcess) -> None:
    status, body, _ = raw(f"https://127.0.0.1:{emulator.port}/_emulator/health", emulator)
    assert (status, body["status"]) == (200, "ok")


def test_create_version_from_code_uploads_a_zip(
    project: AIProjectClient, agent_name: str, tmp_path: Path
) -> None:
    archive = tmp_path / "agent.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("main.py", "print('hi')\n")
    definition = HostedAgentDefinition(
        cpu="0.5",
        memory="1Gi",
        code_configuration=CodeConfiguration(
            runtime="python_3_12", entry_point=["main.py"], dependency_resolution="bundled"
        ),
    )
    project.agents.create_version(agent_name, definition=hosted_definition())
    with archive.open("rb") as code:
        version = project.agents.create_version_from_code(
            agent_name, definition=definition, code=code
        )
    assert version.version == "2"
    assert version.definition.code_configuration.content_hash


def test_an_unknown_route_or_method_gets_the_envelope(
    emulator: EmulatorProcess, admin: AdminClient
) -> None:
    auth = {"Authorization": f"Bearer {admin.token()}"}
    status, body, _ = raw(f"{emulator.endpoint}/nothing-here?api-version=v1", emulator, auth)
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, body, _ = raw(f"{emulator.endpoint}/agents?api-version=v1", emulator, auth, "PUT")
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")


def test_the_admin_api_can_require_a_token(tmp_path: Path) -> None:
    with EmulatorProcess.start(tmp_path / "emu", config={"admin_token": "s3cret"}) as emulator:
        assert emulator.admin().health()["status"] == "ok"  # health stays open
        with pytest.raises(AdminError) as caught:
            emulator.admin().stats()
        assert caught.value.status == 401
        assert emulator.admin(token="s3cret").stats().total == 0
        assert emulator.admin(token="s3cret").config()["admin_token"] == "***"
