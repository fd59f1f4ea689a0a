"""`foundry-operator export AGENT`: print a HostedAgent manifest for an existing agent.

Like ``asoctl import`` or ``config-connector export``: adoption starts from a spec that
describes the agent as Foundry holds it, so applying the manifest (it carries
``adoptionPolicy: Adopt``) takes the agent over and creates nothing. Reads only: the agent's
details and its versions, with the operator's own Foundry client and credential
(``DefaultAzureCredential``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import yaml
from azure.identity.aio import DefaultAzureCredential

from .foundry.client import FoundryClient, FoundryError
from .reconcile.adopt import export_manifest
from .settings import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent", metavar="AGENT", help="name of the agent in Foundry")
    parser.add_argument(
        "--endpoint",
        help="Foundry project endpoint (default: AZURE_AI_PROJECT_ENDPOINT or "
        "FOUNDRY_OPERATOR_PROJECT_ENDPOINT)",
    )
    parser.add_argument("--name", help="metadata.name (default: the agent name, lowercased)")
    parser.add_argument("--namespace", "-n", help="metadata.namespace (default: none)")
    parser.add_argument(
        "--version",
        help="the version to describe (default: the one serving all traffic, else the newest)",
    )


async def _export(args: argparse.Namespace, endpoint: str) -> int:
    credential = DefaultAzureCredential()
    client = FoundryClient(endpoint, credential)
    try:
        info = await client.get_agent(args.agent)
        if info is None:
            print(f"error: agent {args.agent!r} was not found at {endpoint}", file=sys.stderr)
            return 2
        versions = await client.list_versions(args.agent)
    except FoundryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        await client.close()
        await credential.close()
    try:
        manifest, chosen, problems = export_manifest(
            args.agent,
            versions,
            info.routing,
            name=args.name,
            namespace=args.namespace,
            version=args.version,
        )
    except LookupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = [f"# HostedAgent for Foundry agent {args.agent!r}, version {chosen.version}."]
    if manifest["spec"].get("env"):
        lines.append(
            "# env values are literal: move secret ones to a Secret (valueFrom.secretKeyRef);"
        )
        lines.append("# the same value from a Secret matches the version all the same.")
    for problem in problems:
        lines.append(f"# warning: {problem}")
        print(f"warning: {problem}; applying this creates a new version", file=sys.stderr)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.write(yaml.safe_dump(manifest, sort_keys=False))
    return 0


def run(args: argparse.Namespace) -> int:
    endpoint = args.endpoint or Settings().project_endpoint
    if not endpoint:
        print(
            "error: no Foundry project endpoint: pass --endpoint or set AZURE_AI_PROJECT_ENDPOINT",
            file=sys.stderr,
        )
        return 2
    return asyncio.run(_export(args, endpoint))
