"""Start the emulator: certificates, state, both listeners, and the files clients read.

Readiness contract: ``DIR/env`` appears (atomically) only once both ports accept
connections, and disappears on a clean stop. ``DIR/emulator.json`` is written just before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import shlex
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from .config import EmulatorConfig
from .control import IDENTITY_PATH, admin_app, identity_app
from .identity import TokenIssuer, load_or_create_secrets
from .layout import ENV_FILE, INFO_FILE, LOCK_FILE
from .persistence import Persistence, atomic_write
from .server import ADMIN_PREFIX, Emulator
from .tls import ensure_tls

log = logging.getLogger(__name__)

_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True)
class ServeOptions:
    state_dir: Path
    config: EmulatorConfig
    project: str = "local"
    host: str = "127.0.0.1"
    port: int = 0
    identity_port: int = 0
    access_log: bool = False
    # Extra names (IPs or DNS names) the server certificate covers without the emulator
    # listening there: the address a devcluster pod reaches this loopback listener through.
    tls_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Endpoints:
    port: int
    identity_port: int
    endpoint: str
    identity_endpoint: str
    admin_url: str
    admin_url_https: str


def client_environment(
    endpoints: Endpoints, ca_bundle: Path, identity_header: str
) -> dict[str, str]:
    """What a client process needs to reach the emulator with an unmodified SDK."""
    bundle = str(ca_bundle)
    # Keep loopback away from any HTTP(S)_PROXY of the user's shell.
    existing = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    no_proxy = ",".join(
        dict.fromkeys([*filter(None, existing.split(",")), "127.0.0.1", "localhost"])
    )
    return {
        "AZURE_AI_PROJECT_ENDPOINT": endpoints.endpoint,
        "REQUESTS_CA_BUNDLE": bundle,
        "SSL_CERT_FILE": bundle,
        "CURL_CA_BUNDLE": bundle,
        "IDENTITY_ENDPOINT": endpoints.identity_endpoint,
        "IDENTITY_HEADER": identity_header,
        # The Entra-style token endpoint (entra.py): credentials with a client secret,
        # certificate or federated token ask it, not login.microsoftonline.com.
        "AZURE_AUTHORITY_HOST": endpoints.endpoint.rsplit("/api/projects/", 1)[0],
        # Pins DefaultAzureCredential to managed identity, so credentials of a real Azure
        # login in the same shell (az, env vars) cannot win and get refused by the emulator.
        "AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential",
        "FOUNDRY_EMULATOR_ADMIN_URL": endpoints.admin_url,
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


def render_env_file(env: dict[str, str]) -> str:
    lines = ["# Written by `foundry-emulator`; source it: . ./env"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    return "\n".join(lines) + "\n"


async def serve(options: ServeOptions, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    state_dir = options.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_state_dir(state_dir)
    (state_dir / ENV_FILE).unlink(missing_ok=True)

    advertised = "127.0.0.1" if options.host in _WILDCARDS else options.host
    hosts = list(dict.fromkeys([advertised, "127.0.0.1", "localhost", "::1", *options.tls_names]))
    tls = ensure_tls(state_dir, hosts)
    secrets = load_or_create_secrets(state_dir)
    emulator = Emulator(
        options.project, options.config, TokenIssuer(secrets.signing_key), secrets.identity_header
    )

    # One state directory per project: state/NAME.
    persistences = [
        Persistence(
            state_dir / "state" / name,
            state,
            lambda: emulator.config.persistence.debounce_seconds,
        )
        for name, state in emulator.states.items()
    ]
    loaded = sum(p.load() for p in persistences)
    for each in persistences:
        each.start()

    project_app = emulator.project_app()
    project_app.add_subapp(ADMIN_PREFIX, admin_app(emulator))
    access_log = logging.getLogger("aiohttp.access") if options.access_log else None
    runners: list[web.AppRunner] = []
    try:
        main_runner = web.AppRunner(project_app, access_log=access_log, handle_signals=False)
        side_runner = web.AppRunner(
            identity_app(emulator), access_log=access_log, handle_signals=False
        )
        for runner in (main_runner, side_runner):
            await runner.setup()
            runners.append(runner)
        # Long-lived log streams must not hold a stop for the default 60 s.
        await web.TCPSite(
            main_runner,
            options.host,
            options.port,
            ssl_context=tls.server_context(),
            shutdown_timeout=2.0,
            reuse_address=True,
        ).start()
        await web.TCPSite(
            side_runner,
            options.host,
            options.identity_port,
            shutdown_timeout=2.0,
            reuse_address=True,
        ).start()
        endpoints = _endpoints(advertised, options.project, _port(main_runner), _port(side_runner))
        env = client_environment(endpoints, tls.ca_bundle, secrets.identity_header)
        base = endpoints.endpoint.rsplit("/api/projects/", 1)[0]
        projects = {name: f"{base}/api/projects/{name}" for name in emulator.states}
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "project": options.project,
            "host": advertised,
            "port": endpoints.port,
            "identity_port": endpoints.identity_port,
            "endpoint": endpoints.endpoint,
            "projects": projects,
            "identity_endpoint": endpoints.identity_endpoint,
            "admin_url": endpoints.admin_url,
            "admin_url_https": endpoints.admin_url_https,
            "ca_file": str(tls.ca_cert),
            "ca_bundle": str(tls.ca_bundle),
            "state_dir": str(state_dir),
            "started_at": time.time(),
            "env": env,
        }
        atomic_write(state_dir / INFO_FILE, json.dumps(info, indent=2).encode())
        atomic_write(state_dir / ENV_FILE, render_env_file(env).encode())
        log.info(
            "Foundry emulator serving %s (identity %s, admin %s); %d agent(s) restored; "
            "env file %s",
            endpoints.endpoint,
            endpoints.identity_endpoint,
            endpoints.admin_url,
            loaded,
            state_dir / ENV_FILE,
        )
        _install_signal_handlers(stop)
        await stop.wait()
        log.info("Foundry emulator stopping")
    finally:
        (state_dir / ENV_FILE).unlink(missing_ok=True)
        for runner in runners:
            await runner.cleanup()
        for each in persistences:
            await each.stop()
        lock.close()


def _lock_state_dir(state_dir: Path) -> IO[bytes]:
    """Hold an exclusive lock for the process lifetime: two emulators on one state
    directory would overwrite each other's files."""
    handle = (state_dir / LOCK_FILE).open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise OSError(f"another emulator is using the state directory {state_dir}") from None
    return handle


def _endpoints(host: str, project: str, port: int, identity_port: int) -> Endpoints:
    literal = f"[{host}]" if ":" in host else host
    return Endpoints(
        port=port,
        identity_port=identity_port,
        endpoint=f"https://{literal}:{port}/api/projects/{project}",
        identity_endpoint=f"http://{literal}:{identity_port}{IDENTITY_PATH}",
        admin_url=f"http://{literal}:{identity_port}{ADMIN_PREFIX}",
        admin_url_https=f"https://{literal}:{port}{ADMIN_PREFIX}",
    )


def _port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    raise RuntimeError("the emulator listener has no TCP address")


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # Not available off the main thread (e.g. an embedding test); Ctrl-C still works.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
