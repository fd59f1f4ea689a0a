"""foundry-agent-devtools: the tools that develop and demonstrate the operator.

Never in the operator's image: the Foundry emulator (``foundry-emulator``), the local
control plane (``foundry-devcluster``), the demo (``foundry-demo``) and the local runner
that starts ``foundry-operator run`` as a subprocess for the tests and the benchmark.
"""

__version__ = "0.1.0"
