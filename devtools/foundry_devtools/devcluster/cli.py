"""`foundry-devcluster start|stop|env|status|build`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import binaries
from .cluster import ClusterError, DevCluster


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="start etcd + kube-apiserver (building them if needed)")
    start.add_argument("--dir", required=True, type=Path, help="the cluster's directory")
    start.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for /readyz")
    stop = sub.add_parser("stop", help="stop the processes this directory started")
    stop.add_argument("--dir", required=True, type=Path)
    env = sub.add_parser("env", help='print shell exports: eval "$(... env --dir D)"')
    env.add_argument("--dir", required=True, type=Path)
    status = sub.add_parser("status", help="say whether the cluster is running")
    status.add_argument("--dir", required=True, type=Path)
    sub.add_parser("build", help="find or build etcd, kube-apiserver, kubectl and helm")


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "build":
            for name, path in binaries.ensure().items():
                print(f"{name}: {path}")
            return 0
        cluster = DevCluster(args.dir)
        if args.action == "start":
            already = cluster.running()
            started = time.monotonic()
            cluster.start(timeout=args.timeout)
            verb = "already running" if already else f"ready in {time.monotonic() - started:.1f}s"
            print(f"devcluster {verb} at {cluster.apiserver_url}", file=sys.stderr)
            print(f"  kubeconfig: {cluster.kubeconfig}", file=sys.stderr)
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
            sys.stdout.write(cluster.env_exports())
            return 0
        if args.action == "status":
            for component in ("etcd", "kube-apiserver"):
                pid = cluster.pid(component)
                print(f"{component}: {f'running (pid {pid})' if pid else 'stopped'}")
            return 0 if cluster.running() else 3
    except (binaries.BinaryError, ClusterError) as exc:
        print(f"devcluster: {exc}", file=sys.stderr)
        return 1
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="foundry-devcluster",
        description="A local kube-apiserver + etcd (and kubectl, helm) for tests and the demo.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
