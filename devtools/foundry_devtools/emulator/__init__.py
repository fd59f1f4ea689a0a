"""A local HTTPS emulator of the Foundry hosted-agents data plane (see docs/emulator.md).

Modules, from the wire inwards:

- ``cli``: ``foundry-emulator``; ``runner``: certificates, listeners, env files.
- ``server``: the project API routes; ``control``: the admin API and the token endpoint.
- ``state``: agents, versions, sessions, lifecycle; ``paging``; ``validation``; ``errors``.
- ``failures``: image failure rules; ``faults``: injected transport faults; ``stats``.
- ``identity``: tokens; ``tls``: the private CA; ``responses``: the Responses protocol.
- ``persistence``: per-agent state files; ``config``: every knob, one pydantic model.
- ``process`` and ``admin``: the Python helpers tests, the demo and the benchmark use.
"""
