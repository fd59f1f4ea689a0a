"""The `foundry-operator` command.

Each subcommand lives in its own module, which exposes ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their subcommand runs, so that
`foundry-operator crds` does not pay for importing the Azure SDK and kopf.

Only the operator's own commands live here; the emulator, the local control plane and the
demo are the separate ``foundry-agent-devtools`` distribution (``devtools/``), never in the
image.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "crds": ("foundry_operator.api.cli", "write the CRD manifests generated from the API models"),
    "run": ("foundry_operator.runner", "run the operator"),
    "export": (
        "foundry_operator.export",
        "print a HostedAgent manifest (adoptionPolicy Adopt) for an existing Foundry agent",
    ),
}


class _Subcommand(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _load(name: str) -> _Subcommand:
    return cast(_Subcommand, importlib.import_module(SUBCOMMANDS[name][0]))


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="foundry-operator",
        description="Manage Microsoft Foundry hosted agents from Kubernetes.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Only the chosen subcommand's module is imported; the others get a bare parser for --help.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            _load(name).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    return _load(args.command).run(args)


if __name__ == "__main__":
    sys.exit(main())
