"""How the devcluster chooses its binaries, with stand-in executables (no build)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from foundry_devtools.devcluster import binaries, versions


def fake_binary(directory: Path, name: str, output: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # An empty cache and a PATH with only the basics: nothing real is found by accident.
    monkeypatch.setenv("FOUNDRY_OPERATOR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", "/bin:/usr/bin" if Path("/bin/sh").exists() else os.defpath)
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)


def test_kubebuilder_assets_with_matching_minor_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    minor = versions.KUBERNETES_VERSION.rsplit(".", 1)[0]
    fake = fake_binary(tmp_path / "assets", "kube-apiserver", f"Kubernetes v{minor}.0")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / "assets"))
    assert binaries.find(versions.KUBE_APISERVER) == fake


def test_binary_of_another_minor_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_binary(tmp_path / "assets", "kube-apiserver", "Kubernetes v1.20.0")
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path / "assets"))
    assert binaries.find(versions.KUBE_APISERVER) is None


def test_etcd_version_is_read_from_its_banner(tmp_path: Path) -> None:
    fake = fake_binary(tmp_path, "etcd", f"etcd Version: {versions.ETCD_VERSION}\nGit SHA: x")
    assert binaries.probe_version(versions.ETCD, fake) == versions.ETCD_VERSION


def test_cached_build_is_preferred_over_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = binaries.cached_path(versions.HELM)
    fake_binary(cached.parent, "helm", f"v{versions.HELM_VERSION}")
    fake_binary(tmp_path / "other", "helm", "v3.1.0")
    monkeypatch.setenv("PATH", f"{tmp_path / 'other'}:/bin:/usr/bin")
    assert binaries.find(versions.HELM) == cached


def test_no_go_and_no_binaries_names_what_is_missing() -> None:
    with pytest.raises(binaries.BinaryError) as err:
        binaries.ensure()
    message = str(err.value)
    assert "no Go toolchain" in message
    for component in versions.ALL:
        assert f"{component.binary} {component.version}" in message
    assert "KUBEBUILDER_ASSETS" in message


ARGOCD_STYLE_GOMOD = """module github.com/argoproj/argo-cd/v3

go 1.25.5

require k8s.io/api v0.34.0

replace (
	github.com/golang/protobuf => github.com/golang/protobuf v1.5.4

	// Avoid CVE-2022-3064
	gopkg.in/yaml.v2 => gopkg.in/yaml.v2 v2.4.0
	k8s.io/api => k8s.io/api v0.34.0
	github.com/argoproj/gitops-engine => ./gitops-engine
)

replace example.com/single v1.0.0 => example.com/fork v1.0.1 // a comment
"""


def test_module_replaces_copies_published_pins_and_skips_local_paths() -> None:
    assert binaries.module_replaces(ARGOCD_STYLE_GOMOD) == [
        ("github.com/golang/protobuf", "github.com/golang/protobuf", "v1.5.4"),
        ("gopkg.in/yaml.v2", "gopkg.in/yaml.v2", "v2.4.0"),
        ("k8s.io/api", "k8s.io/api", "v0.34.0"),
        ("example.com/single", "example.com/fork", "v1.0.1"),
    ]


def test_argocd_version_is_read_from_its_client_banner(tmp_path: Path) -> None:
    fake = tmp_path / "argocd"
    fake.write_text("#!/bin/sh\necho 'argocd: v3.2.11+unknown'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert binaries.probe_version(versions.ARGOCD, fake) == "3.2.11+unknown"
