"""foundry-agent-operator: manage Microsoft Foundry hosted agents from Kubernetes."""

__version__ = "0.1.0"
