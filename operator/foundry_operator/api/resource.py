"""Identity of the HostedAgent resource: group, version, names.

Kept apart from the schema so that handlers can register with kopf, and the kube layer can
build URLs, without importing pydantic models.
"""

from __future__ import annotations

from typing import Final

GROUP: Final = "foundry.agents.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "HostedAgent"
LIST_KIND: Final = "HostedAgentList"
PLURAL: Final = "hostedagents"
SINGULAR: Final = "hostedagent"
SHORT_NAMES: Final = ("hagent",)
CATEGORIES: Final = ("foundry",)
CRD_NAME: Final = f"{PLURAL}.{GROUP}"
