"""`foundry-devcluster start|stop|env|status|build|build-image|load-image|forward`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import binaries, versions
from .cluster import ClusterError, DevCluster
from .hostdeps import HostDependencyError
from .node import NodeError, unavailable_reason


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="start etcd + kube-apiserver (building them if needed)")
    start.add_argument("--dir", required=True, type=Path, help="the cluster's directory")
    start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for /readyz")
    start.add_argument(
        "--node",
        action="store_true",
        help="also run kube-controller-manager, kube-scheduler and a kubelet with containerd "
        "(root, Linux); the directory keeps its node from then on",
    )
    stop = sub.add_parser("stop", help="stop the processes this directory started")
    stop.add_argument("--dir", required=True, type=Path)
    env = sub.add_parser("env", help='print shell exports: eval "$(... env --dir D)"')
    env.add_argument("--dir", required=True, type=Path)
    status = sub.add_parser("status", help="say whether the cluster is running")
    status.add_argument("--dir", required=True, type=Path)
    build = sub.add_parser("build", help="find or build etcd, kube-apiserver, kubectl and helm")
    build.add_argument(
        "--node",
        action="store_true",
        help="also the node's kube-controller-manager, kube-scheduler and kubelet",
    )
    build.add_argument(
        "--argocd",
        action="store_true",
        help=f"also Argo CD {versions.ARGOCD_VERSION} (for the GitOps tests; "
        "`env` then puts argocd on PATH)",
    )
    image = sub.add_parser(
        "build-image", help="build the operator image from the Dockerfile (buildah, local base)"
    )
    image.add_argument("--repo", type=Path, default=Path("."), help="the repository root")
    image.add_argument("--out", type=Path, default=Path("dist"), help="where the OCI archive goes")
    for sub_parser in (build, image):
        sub_parser.add_argument(
            "--if-possible",
            action="store_true",
            help="with --node / for the image: do nothing (exit 0) on a machine that cannot "
            "run a node (not Linux, not root, no cgroups or overlayfs), saying why",
        )
    load = sub.add_parser("load-image", help="put an OCI archive into the node's containerd")
    load.add_argument("--dir", required=True, type=Path)
    load.add_argument("archive", type=Path)
    forward = sub.add_parser(
        "forward", help="let pods reach 127.0.0.1:PORT of this host at GATEWAY:PORT"
    )
    forward.add_argument("--dir", required=True, type=Path)
    forward.add_argument("port", type=int)


def run(args: argparse.Namespace) -> int:
    try:
        if args.action in ("build", "build-image") and args.if_possible:
            reason = unavailable_reason()
            if reason and (args.action == "build-image" or args.node):
                print(f"devcluster: skipping {args.action}: {reason}", file=sys.stderr)
                if args.action == "build-image":
                    return 0
                args.node = False
        if args.action == "build":
            wanted = versions.ALL + (versions.NODE if args.node else ())
            wanted += (versions.ARGOCD,) if args.argocd else ()
            for name, path in binaries.ensure(wanted).items():
                print(f"{name}: {path}")
            return 0
        if args.action == "build-image":
            from . import image

            built = image.build(args.repo.resolve(), args.out)
            print(f"image:   {built.reference}")
            print(f"digest:  {built.digest}")
            print(f"archive: {built.archive} ({built.size / 1e6:.1f} MB)")
            return 0
        cluster = DevCluster(args.dir)
        if args.action == "start":
            already = cluster.running()
            started = time.monotonic()
            cluster.start(timeout=args.timeout, node=args.node)
            verb = "already running" if already else f"ready in {time.monotonic() - started:.1f}s"
            print(f"devcluster {verb} at {cluster.apiserver_url}", file=sys.stderr)
            print(f"  kubeconfig: {cluster.kubeconfig}", file=sys.stderr)
            if cluster.has_node:
                print(
                    f"  node:       {cluster.node_name} (pods on {cluster.pod_subnet})",
                    file=sys.stderr,
                )
            print(
                f'  use it:     eval "$(foundry-devcluster env --dir {args.dir})"',
                file=sys.stderr,
            )
            return 0
        if args.action == "stop":
            stopped = cluster.stop()
            print(
                f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}",
                file=sys.stderr,
            )
            return 0
        if args.action == "env":
            cluster.link_tools()
            sys.stdout.write(cluster.env_exports())
            return 0
        if args.action == "load-image":
            reference = cluster.load_image(args.archive.resolve())
            print(f"loaded {reference} into the node of {args.dir}", file=sys.stderr)
            return 0
        if args.action == "forward":
            gateway = cluster.forward(args.port)
            print(f"pods reach 127.0.0.1:{args.port} at {gateway}:{args.port}", file=sys.stderr)
            print(gateway)
            return 0
        if args.action == "status":
            for component in cluster.components():
                pid = cluster.pid(component)
                print(f"{component}: {f'running (pid {pid})' if pid else 'stopped'}")
            return 0 if cluster.running() else 3
    except (binaries.BinaryError, ClusterError, NodeError, HostDependencyError) as exc:
        print(f"devcluster: {exc}", file=sys.stderr)
        return 1
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="foundry-devcluster",
        description="A local kube-apiserver + etcd (and kubectl, helm) for tests and the demo; "
        "with --node also controllers, a scheduler and a kubelet that runs pods.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
