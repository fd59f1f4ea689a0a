"""Helpers shared by the tests (import as ``from support import wait_for``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class KubeEnv:
    kubeconfig: Path
    kubectl_bin: Path
    helm_bin: Path

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{self.kubectl_bin.parent}{os.pathsep}{env.get('PATH', '')}"
        return env


# The resync period of the session operator (short, so drift tests do not wait minutes).
TEST_RESYNC_SECONDS = 4


def wait_for(
    predicate: Callable[[], T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "",
) -> T:
    """Poll until ``predicate`` returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {what or predicate}: last={last!r}"
    )
