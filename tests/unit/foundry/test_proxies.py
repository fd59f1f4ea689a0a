"""The Foundry client reads the proxy environment once, and honours NO_PROXY."""

from __future__ import annotations

import pytest

from foundry_operator.foundry.client import env_proxies

ENDPOINT = "https://acct.services.ai.azure.com/api/projects/p"


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_no_proxy_configured() -> None:
    assert env_proxies(ENDPOINT) is None


def test_https_proxy_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert env_proxies(ENDPOINT) == {"https": "http://proxy.corp:3128"}


def test_no_proxy_bypasses_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", ".services.ai.azure.com")
    assert env_proxies(ENDPOINT) is None
