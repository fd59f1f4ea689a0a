"""`foundry-emulator`: run the Foundry hosted-agents emulator in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from .config import load_config
from .runner import ServeOptions, serve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=int, default=0, help="HTTPS port of the project API (0 picks a free port)"
    )
    parser.add_argument(
        "--identity-port",
        type=int,
        default=0,
        help="plain-http loopback port of the token endpoint and admin API (0 picks a free port)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--tls-name",
        action="append",
        default=[],
        metavar="NAME",
        help="another IP or DNS name for the server certificate (repeatable), for clients "
        "that reach the loopback listener through a forwarded address, such as a pod",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="directory for certificates, state, env and emulator.json; "
        "state survives restarts (default: a temporary directory)",
    )
    parser.add_argument(
        "--project", default="local", help="project name in the endpoint path /api/projects/NAME"
    )
    parser.add_argument(
        "--config", type=Path, default=None, help="emulator configuration file (YAML or JSON)"
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = load_config(args.config)
    except (OSError, ValueError, ValidationError) as exc:
        print(f"foundry-emulator: invalid --config: {exc}", file=sys.stderr)
        return 2
    temporary = args.state_dir is None
    state_dir = Path(tempfile.mkdtemp(prefix="foundry-emulator-")) if temporary else args.state_dir
    options = ServeOptions(
        state_dir=state_dir,
        config=config,
        project=args.project,
        host=args.host,
        port=args.port,
        identity_port=args.identity_port,
        access_log=args.access_log,
        tls_names=tuple(args.tls_name),
    )
    try:
        asyncio.run(serve(options))
    except OSError as exc:
        print(f"foundry-emulator: cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        if temporary:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="foundry-emulator",
        description="A local HTTPS emulator of the Foundry hosted-agents data plane.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
