"""A PNG of agents Ready over time: the operator against the async peer and the sequential
baseline."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .harness import Params


def plot_ready_over_time(
    operator_times: list[float],
    baseline_times: list[float],
    peer_times: list[float],
    agents: int,
    path: Path,
    params: Params,
) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plotting is optional for a run; the JSON line is the result
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    # Both curves start from zero agents at time zero.
    ax.step([0.0, *operator_times], range(len(operator_times) + 1), where="post", label="operator")
    if peer_times:
        ax.step(
            [0.0, *peer_times],
            range(len(peer_times) + 1),
            where="post",
            color="C2",
            label="async SDK peer (routed)",
        )
    if baseline_times:
        per_agent = baseline_times[-1] / len(baseline_times)
        horizon = max(operator_times[-1] if operator_times else 0, baseline_times[-1]) * 1.5
        measured = [(t, i + 1) for i, t in enumerate(baseline_times)]
        ax.step(
            [t for t, _ in measured],
            [c for _, c in measured],
            where="post",
            label=f"sequential SDK baseline ({len(baseline_times)} timed)",
        )
        # The baseline is linear: extend the timed sample as a dashed line.
        ax.plot(
            [baseline_times[-1], horizon],
            [len(baseline_times), min(agents, horizon / per_agent)],
            linestyle="--",
            color="C1",
            label="baseline, extrapolated",
        )
        ax.set_xlim(0, horizon)
    ax.set_xlabel("seconds since the rollout started (HostedAgents created, or the first call)")
    ax.set_ylabel("agents Ready")
    ax.set_ylim(0, agents * 1.05)
    ax.set_title(
        f"{agents} agents, {params.latency_ms:g} ms latency, {params.provisioning_seconds:g} s "
        f"provisioning, concurrency {params.concurrency}"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
