"""Two replicas: one acts, the other takes over when it dies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from foundry_devtools.emulator.process import EmulatorProcess
from foundry_devtools.local import OperatorProcess
from support import KubeEnv, wait_for
from support.hagent import IMAGE, manifest, unique, wait_ready


@pytest.fixture
def replicas(
    kube: KubeEnv,
    emulator: EmulatorProcess,
    operator_process: OperatorProcess,
    namespace: str,
    tmp_path: Path,
) -> Iterator[list[OperatorProcess]]:
    operator_process.stop()  # the session's standalone operator must not act here
    procs = [
        OperatorProcess(
            tmp_path / f"replica-{i}.log",
            kubeconfig=kube.kubeconfig,
            foundry_env=emulator.env,
            args=[
                "--leader-election",
                "--lease-namespace",
                namespace,
                "--lease-duration",
                "4",
                "--namespace",
                namespace,
                "--metrics-port",
                "0",
                "--health-port",
                "0",
            ],
        )
        for i in range(2)
    ]
    for proc in procs:
        proc.start()
    try:
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def leader(procs: list[OperatorProcess]) -> OperatorProcess | None:
    leading = [p for p in procs if p.running() and "leading as" in p.log_since_start()]
    return leading[0] if len(leading) == 1 else None


def test_only_the_leader_acts_and_a_standby_takes_over_when_it_dies(
    kubectl: Any, namespace: str, replicas: list[OperatorProcess]
) -> None:
    first = wait_for(lambda: leader(replicas), what="one leader")
    standby = next(p for p in replicas if p is not first)
    wait_for(lambda: "waiting to lead" in standby.log_since_start(), what="a waiting standby")

    one = unique("ha-one")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(one, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, one)
    assert "created version" in first.log_since_start()
    assert "created version" not in standby.log_since_start()

    first.kill()
    wait_for(lambda: "leading as" in standby.log_since_start(), timeout=30, what="takeover")
    two = unique("ha-two")
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest(two, f"{IMAGE}:1"))
    wait_ready(kubectl, namespace, two)
    assert "took over the leader Lease" in standby.log_since_start()
