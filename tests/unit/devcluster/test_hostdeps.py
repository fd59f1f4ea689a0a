"""What the image build and the node ask apt for: each must bring everything it runs."""

from __future__ import annotations

from foundry_devtools.devcluster import hostdeps


def test_the_image_build_names_an_oci_runtime() -> None:
    # buildah only recommends runc/crun; installed without recommends it has no runtime and
    # every RUN step of the Dockerfile fails with "exec: no command" (a CI run did).
    commands = {need.command for need in hostdeps.IMAGE}
    assert {"buildah", "runc"} <= commands


def test_missing_packages_are_named_once_each() -> None:
    needs = (
        hostdeps.Need("pkg-a", command="surely-not-a-command-1"),
        hostdeps.Need("pkg-a", command="surely-not-a-command-2"),
        hostdeps.Need("pkg-b", path="/surely/not/a/path"),
        hostdeps.Need("coreutils", command="ls"),
    )
    assert hostdeps.missing_packages(needs) == ["pkg-a", "pkg-b"]
