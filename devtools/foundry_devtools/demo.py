"""`foundry-demo`: the whole product on one machine, left running to explore.

Starts a devcluster and the Foundry emulator, installs the CRDs, runs the operator in the
background, applies ``examples/``, and shows the ``kubectl get hagent`` table until the
good agents are Ready and the broken one is Degraded. ``--stop`` ends it all.

With ``--node`` (``make demo NODE=1``) the cluster gets a node, and the operator runs as a
Pod instead: the image is built from the Dockerfile, loaded into the node and installed
with the Helm chart into ``foundry-system`` (Pod Security "restricted").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from . import incluster
from .devcluster.cluster import DevCluster
from .emulator.process import EmulatorProcess
from .kubewait import wait_established
from .local import OperatorProcess, crds_dir

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO_FILES = ("basic.yaml", "full.yaml", "failing-image.yaml")
# What "done" looks like for each sample: (name, condition that must be True)
# The chart's Deployment with --node (release foundry-operator).
OPERATOR_DEPLOYMENT = "deploy/foundry-operator-foundry-agent-operator"
EXPECTED = {"hello-agent": "Ready", "support-agent": "Ready", "broken-agent": "Degraded"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=Path(".demo"), help="where state lives")
    parser.add_argument("--stop", action="store_true", help="stop a running demo")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for agents")
    parser.add_argument(
        "--node",
        action="store_true",
        help="run the operator as a Pod from the image, installed with the chart (root, Linux)",
    )


def _say(message: str) -> None:
    print(message, flush=True)


def _alive(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z" and marker in cmdline


def _stop_pidfile(pidfile: Path, marker: str) -> bool:
    try:
        pid = int(pidfile.read_text())
    except (OSError, ValueError):
        return False
    stopped = False
    if _alive(pid, marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(pid, marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid, marker):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        stopped = True
    pidfile.unlink(missing_ok=True)
    return stopped


def _kubectl(cluster: DevCluster, *args: str, input: str | None = None) -> str:
    env = dict(os.environ, **cluster.env())
    out = subprocess.run(
        ["kubectl", *args], env=env, input=input, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def _done(cluster: DevCluster) -> bool:
    items = json.loads(_kubectl(cluster, "get", "hagent", "-o", "json"))["items"]
    state: dict[str, set[str]] = {
        i["metadata"]["name"]: {
            c["type"] for c in i.get("status", {}).get("conditions", []) if c["status"] == "True"
        }
        for i in items
    }
    return all(want in state.get(name, set()) for name, want in EXPECTED.items())


def _running_emulator_env(root: Path) -> dict[str, str] | None:
    """The env of the demo's emulator if it is still running from an earlier demo."""
    try:
        pid = int((root / "emulator.pid").read_text())
        if not _alive(pid, str(root / "emulator")):
            return None
        return dict(json.loads((root / "emulator" / "emulator.json").read_text())["env"])
    except (OSError, ValueError, KeyError):
        return None


def _start_emulator(root: Path, tls_names: Sequence[str] = ()) -> EmulatorProcess:
    # A few seconds of provisioning, so the table shows agents moving through the phases.
    emulator = EmulatorProcess.start(
        root / "emulator",
        config={"lifecycle": {"provisioning_seconds": 3}},
        extra_args=[arg for name in tls_names for arg in ("--tls-name", name)],
    )
    (root / "emulator.pid").write_text(f"{emulator.pid}\n")
    return emulator


def _helm(cluster: DevCluster, *args: str) -> str:
    env = dict(os.environ, **cluster.env())
    out = subprocess.run(["helm", *args], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def _operator_as_pod(cluster: DevCluster, root: Path) -> None:
    """The image built and loaded, the emulator reachable from pods, the chart installed."""
    from .devcluster import image

    _stop_pidfile(root / "operator.pid", "foundry_operator.cli run")
    # Started again with the gateway in its certificate (its state survives the restart).
    _stop_pidfile(root / "emulator.pid", str(root / "emulator"))
    emulator = _start_emulator(root, [cluster.gateway])
    for port in (emulator.port, emulator.identity_port):
        cluster.forward(port)
    _say(f"    endpoint {emulator.endpoint} (pods: {cluster.gateway}:{emulator.port})")
    _say("3/5 building the operator image from the Dockerfile and loading it into the node")
    built = image.build(EXAMPLES.parent, EXAMPLES.parent / "dist")
    cluster.load_image(built.archive)
    _say(f"    {built.reference} ({built.size / 1e6:.0f} MB)")
    _say("4/5 installing the chart into foundry-system (Pod Security: restricted)")
    namespace = "foundry-system"
    _kubectl(
        cluster,
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": namespace,
                    "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
                },
            }
        ),
    )
    objects = incluster.emulator_objects(emulator.env, emulator.ca_file, cluster.gateway, namespace)
    _kubectl(cluster, "apply", "-f", "-", input=objects)
    chart = EXAMPLES.parent / "charts" / "foundry-agent-operator"
    _helm(
        cluster,
        "upgrade", "--install", "foundry-operator", str(chart), "-n", namespace,
        "--take-ownership", "--wait", "--timeout", "180s",
        *incluster.chart_values(built.reference, emulator.endpoint, cluster.gateway),
        "--set", "operator.logFormat=text",
    )  # fmt: skip
    _say(_kubectl(cluster, "get", "pods", "-n", namespace, "-o", "wide").rstrip())


def stop(root: Path) -> int:
    root = root.resolve()
    emu = _stop_pidfile(root / "emulator.pid", str(root / "emulator"))
    op = _stop_pidfile(root / "operator.pid", "foundry_operator.cli run")
    cluster = DevCluster(root / "cluster").stop()
    _say(f"stopped: operator={op}, emulator={emu}, control plane={', '.join(cluster) or 'none'}")
    return 0


def run(args: argparse.Namespace) -> int:
    root: Path = args.dir.resolve()
    if args.stop:
        return stop(root)
    root.mkdir(parents=True, exist_ok=True)

    what = "control plane and a node" if args.node else "control plane"
    _say(f"1/5 starting the local {what} (the first run builds it from Go modules)")
    cluster = DevCluster(root / "cluster")
    cluster.start(node=args.node)
    os.environ.update(cluster.env())
    # A directory that once had a node keeps it (and its operator Pod): never run a second
    # operator beside that one.
    node = args.node or cluster.has_node

    _say("2/5 starting the Foundry emulator")
    if node:
        _operator_as_pod(cluster, root)
    else:
        _operator_as_process(cluster, root)

    return _apply_examples(cluster, root, args.timeout, node)


def _operator_as_process(cluster: DevCluster, root: Path) -> None:
    foundry_env = _running_emulator_env(root) or _start_emulator(root).env
    _say(f"    endpoint {foundry_env['AZURE_AI_PROJECT_ENDPOINT']}")
    _say("3/5 installing the HostedAgent CRD")
    _kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(crds_dir()))
    wait_established(
        ["hostedagents.foundry.agents.dev", "foundrytoolboxes.foundry.agents.dev"],
        dict(os.environ, **cluster.env()),
    )

    _say(f"4/5 starting the operator (log: {root / 'operator.log'})")
    operator_pid = root / "operator.pid"
    _stop_pidfile(operator_pid, "foundry_operator.cli run")
    operator = OperatorProcess(
        root / "operator.log",
        kubeconfig=cluster.kubeconfig,
        foundry_env=foundry_env,
        args=["--metrics-port", "0", "--health-port", "0", "--log-format", "text"],
    )
    operator.start()
    operator_pid.write_text(f"{operator.pid}\n")
    operator.wait_until_logged("Initial authentication has finished")


def _apply_examples(cluster: DevCluster, root: Path, timeout: float, node: bool) -> int:
    _say("5/5 applying the examples: " + ", ".join(f"examples/{f}" for f in DEMO_FILES))
    for name in DEMO_FILES:
        _kubectl(cluster, "apply", "-f", str(EXAMPLES / name))

    deadline = time.monotonic() + timeout
    last = ""
    while True:
        table = _kubectl(cluster, "get", "hagent", "-o", "wide")
        # Print only real changes, not the AGE column ticking.
        essence = "\n".join(line.rsplit(None, 1)[0] for line in table.splitlines())
        if essence != last:
            _say("\n$ kubectl get hagent -o wide\n" + table.rstrip())
            last = essence
        if _done(cluster):
            break
        if time.monotonic() > deadline:
            where = f"kubectl logs -n foundry-system {OPERATOR_DEPLOYMENT}" if node else ""
            _say(
                f"\nNot everything settled within {timeout:.0f}s; "
                f"see {where or root / 'operator.log'}"
            )
            return 1
        time.sleep(1)

    reason = _kubectl(
        cluster,
        "get",
        "hagent",
        "broken-agent",
        "-o",
        "jsonpath={.status.lastError.code}: {.status.lastError.remediation}",
    )
    _say(f"\nbroken-agent is Degraded, as it should be: {reason}")
    dir_arg = os.path.relpath(root)
    bin_dir = Path(sys.executable).parent
    devcluster = os.path.relpath(bin_dir / "foundry-devcluster")
    demo = os.path.relpath(bin_dir / "foundry-demo")
    logs = (
        f"kubectl logs -n foundry-system {OPERATOR_DEPLOYMENT} -f"
        if node
        else f"tail -f {dir_arg}/operator.log"
    )
    _say(
        f"""
Everything keeps running. Try:
  eval "$({devcluster} env --dir {dir_arg}/cluster)"   # kubectl and helm
  kubectl describe hagent broken-agent          # conditions, remediation, Events
  kubectl get hagent support-agent -o yaml      # the full status
  kubectl edit hagent hello-agent               # change the image: a new version rolls out
  set -a; . {dir_arg}/emulator/env; set +a      # talk to the emulator with the Azure SDK
  {logs}
Stop it all with:  make demo-stop   (or: {demo} --stop --dir {dir_arg})"""
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="foundry-demo",
        description="Start everything locally and apply the sample agents.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
