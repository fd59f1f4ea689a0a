"""Run examples/argocd/health.lua the way Argo CD does, from Python.

Argo CD evaluates a custom health check with gopher-lua (Lua 5.1) in a sandbox: the global
``obj`` holds the live object decoded from JSON (arrays become 1-based tables, null becomes
nil), and only the base, table, package and a reduced os library are open, so there is no
``string`` or ``math`` library (argo-cd util/lua/lua.go, ``runLua``). The script returns a
table with ``status`` and ``message``.

Here the interpreter is real Lua 5.1 (``lupa.lua51``), with the libraries Argo CD leaves out
removed, including the string metatable, so ``("x"):sub(1)`` fails here as it does there.

Imported by the unit and the integration tests as ``unit.argocd.healthcheck`` (``tests`` is
on the path, so ``unit`` is a namespace package).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lupa.lua51 as lua51

REPO = Path(__file__).resolve().parents[3]
ARGOCD = REPO / "examples" / "argocd"
HEALTH_LUA = ARGOCD / "health.lua"
HEALTH_KEY = "resource.customizations.health.foundry.agents.dev_HostedAgent"

# What Argo CD accepts from a health script (gitops-engine health.HealthStatusCode).
STATUSES = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})

_SANDBOX = """
debug.setmetatable("", nil)
string, math, io, debug, os, coroutine = nil, nil, nil, nil, nil, nil
load, loadstring, dofile, loadfile, require, module = nil, nil, nil, nil, nil, nil
"""


@dataclass(frozen=True)
class Health:
    status: str
    message: str


def evaluate(
    obj: dict[str, Any], script: str | None = None, *, require_message: bool = True
) -> Health:
    """The health Argo CD would show for ``obj`` (a HostedAgent as JSON) under health.lua,
    or under ``script``. health.lua always explains itself: a message is required."""
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    runtime.execute(_SANDBOX)
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(script if script is not None else HEALTH_LUA.read_text())
    if lua51.lua_type(result) != "table":
        raise AssertionError(f"health.lua returned {result!r}, not a table")
    table = dict(result.items())
    status, message = table.get("status"), table.get("message")
    assert status in STATUSES, f"invalid health status {status!r}"
    assert isinstance(message, str), f"message is not a string: {table!r}"
    assert message or not require_message, f"no message for {status}: {table!r}"
    return Health(str(status), message)
