"""`foundry-operator crds`: write (or check) the CRD manifests generated from the models."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from foundry_operator.api.crdgen import crd_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=Path("crds"),
        metavar="DIR",
        help="directory for the CRD YAML files (default: ./crds)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 with a diff if the files in DIR differ from the models",
    )


def drift(output: Path) -> dict[str, str]:
    """File name -> unified diff, for each generated file that differs from ``output``."""
    diffs: dict[str, str] = {}
    for name, wanted in crd_files().items():
        path = output / name
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != wanted:
            diffs[name] = "".join(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    fromfile=f"{path} (on disk)",
                    tofile=f"{path} (generated)",
                )
            )
    return diffs


def run(args: argparse.Namespace) -> int:
    output: Path = args.output
    if args.check:
        diffs = drift(output)
        for diff in diffs.values():
            sys.stdout.write(diff)
        if diffs:
            print(
                f"error: {', '.join(sorted(diffs))} in {output}/ differ from the API models; "
                "run `foundry-operator crds` and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"{output}/ matches the API models")
        return 0
    output.mkdir(parents=True, exist_ok=True)
    for name, text in crd_files().items():
        (output / name).write_text(text, encoding="utf-8")
        print(f"wrote {output / name}")
    return 0
