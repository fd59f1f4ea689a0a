"""Waiting for CRDs to be Established, for every tool that installs them.

``kubectl wait --for=condition=Established`` right after ``kubectl apply`` fails at once
(".status.conditions accessor error: <nil>") when it reads the CRD before the API server's
controller gave it any condition: a race that an apply-then-wait loses now and then. This
reads the condition itself until it is True or the deadline passes.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable, Mapping

ESTABLISHED = '{.status.conditions[?(@.type=="Established")].status}'


def wait_established(
    crds: Iterable[str],
    env: Mapping[str, str],
    *,
    kubectl: str = "kubectl",
    timeout: float = 60.0,
) -> None:
    """Return once every CRD in ``crds`` (full names) is Established; raise RuntimeError
    naming the first one that is not by the deadline, with kubectl's last answer."""
    deadline = time.monotonic() + timeout
    for crd in crds:
        while True:
            out = subprocess.run(
                [kubectl, "get", f"crd/{crd}", "-o", f"jsonpath={ESTABLISHED}"],
                env=dict(env),
                capture_output=True,
                text=True,
                check=False,
            )
            if out.returncode == 0 and out.stdout.strip() == "True":
                break
            if time.monotonic() > deadline:
                said = (out.stderr or out.stdout).strip() or "no Established condition"
                raise RuntimeError(f"CRD {crd} not Established within {timeout:.0f}s: {said}")
            time.sleep(0.2)
