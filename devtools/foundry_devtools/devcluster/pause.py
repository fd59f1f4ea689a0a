"""The pod sandbox ("pause") image, made here: no registry is reachable to pull one.

Every pod's namespaces are held by one tiny process. Kubernetes' own pause image is C; this
is the same few lines in Go (built with the toolchain the devcluster already needs, static,
cached), packed by hand into a one-layer OCI archive that containerd imports.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .binaries import BinaryError, _build_lock, _go_env, _say, cache_root

RECIPE = "r1"
REFERENCE = f"localhost/foundry-devcluster/pause:{RECIPE}"

_SOURCE = """\
// The pod sandbox's process: it holds the pod's namespaces, reaps the zombies it inherits
// and exits on SIGINT or SIGTERM.
package main

import (
\t"os"
\t"os/signal"
\t"syscall"
)

func main() {
\tsignals := make(chan os.Signal, 16)
\tsignal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
\tfor s := range signals {
\t\tif s != syscall.SIGCHLD {
\t\t\tos.Exit(0)
\t\t}
\t\tfor {
\t\t\tpid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
\t\t\tif pid <= 0 || err != nil {
\t\t\t\tbreak
\t\t\t}
\t\t}
\t}
}
"""

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def _arch() -> str:
    machine = platform.machine()
    if machine not in _GOARCH:
        raise BinaryError(f"no pause image for this machine's architecture ({machine})")
    return _GOARCH[machine]


def archive_path() -> Path:
    return cache_root() / "images" / f"pause-{RECIPE}.oci.tar"


def _build_binary(dest: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise BinaryError("building the pod sandbox (pause) binary needs a Go toolchain")
    with tempfile.TemporaryDirectory(prefix="foundry-pause-") as tmp:
        Path(tmp, "go.mod").write_text("module local/pause\n\ngo 1.21\n")
        Path(tmp, "main.go").write_text(_SOURCE)
        env = dict(_go_env(), GOFLAGS="", GOTOOLCHAIN="local", GOARCH=_arch())
        proc = subprocess.run(
            [
                "nice",
                "-n",
                "19",
                go,
                "build",
                "-trimpath",
                "-ldflags",
                "-s -w",
                "-o",
                str(dest),
                ".",
            ],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BinaryError(f"building the pause binary failed:\n{proc.stderr}")


def _blob(tar: tarfile.TarFile, data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest.split(':', 1)[1]}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return {"digest": digest, "size": len(data)}


def _layer(binary: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as layer:
        info = tarfile.TarInfo("pause")
        data = binary.read_bytes()
        info.size, info.mode = len(data), 0o755
        layer.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _write_archive(binary: Path, dest: Path) -> None:
    layer = _layer(binary)
    config = json.dumps(
        {
            "architecture": _arch(),
            "os": "linux",
            "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()],
            },
        }
    ).encode()
    tmp = dest.with_suffix(".partial")
    with tarfile.open(tmp, "w") as tar:
        layer_desc = _blob(tar, layer)
        config_desc = _blob(tar, config)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **layer_desc}],
            }
        ).encode()
        manifest_desc = _blob(tar, manifest)
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    **manifest_desc,
                    "annotations": {"org.opencontainers.image.ref.name": REFERENCE},
                }
            ],
        }
        for name, data in (
            ("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
            ("index.json", json.dumps(index).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, dest)


def ensure() -> Path:
    """The pause image's OCI archive, built once into the cache."""
    dest = archive_path()
    if dest.is_file():
        return dest
    with _build_lock():
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        _say(f"building the pod sandbox image {REFERENCE}")
        binary = dest.with_name(f"pause-{RECIPE}.bin")
        _build_binary(binary)
        _write_archive(binary, dest)
        binary.unlink()
    return dest
