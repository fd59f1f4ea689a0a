"""Identity of the resources: group, version, names (HostedAgent and FoundryToolbox).

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

RETRY_ANNOTATION: Final = "retry.foundry.agents.dev/token"
"""Set or change it (any value) to ask for a new Foundry version of an unchanged spec, e.g.
after fixing a registry permission that made the last version fail. Its own prefix, because
kopf ignores changes to annotations under its storage prefix (``foundry.agents.dev/``)."""

# FoundryToolbox: a Foundry toolbox (tools a HostedAgent reaches over MCP), same group.
TOOLBOX_KIND: Final = "FoundryToolbox"
TOOLBOX_LIST_KIND: Final = "FoundryToolboxList"
TOOLBOX_PLURAL: Final = "foundrytoolboxes"
TOOLBOX_SINGULAR: Final = "foundrytoolbox"
TOOLBOX_SHORT_NAMES: Final = ("ftoolbox",)
TOOLBOX_CRD_NAME: Final = f"{TOOLBOX_PLURAL}.{GROUP}"

# FoundryProject / ClusterFoundryProject: a Foundry project endpoint and the credential to
# reach it, chosen by a HostedAgent's spec.projectRef (namespaced: its own namespace only;
# cluster-scoped: the namespaces its selector admits).
PROJECT_KIND: Final = "FoundryProject"
PROJECT_LIST_KIND: Final = "FoundryProjectList"
PROJECT_PLURAL: Final = "foundryprojects"
PROJECT_SINGULAR: Final = "foundryproject"
PROJECT_SHORT_NAMES: Final = ("fproject",)
PROJECT_CRD_NAME: Final = f"{PROJECT_PLURAL}.{GROUP}"
CLUSTER_PROJECT_KIND: Final = "ClusterFoundryProject"
CLUSTER_PROJECT_LIST_KIND: Final = "ClusterFoundryProjectList"
CLUSTER_PROJECT_PLURAL: Final = "clusterfoundryprojects"
CLUSTER_PROJECT_SINGULAR: Final = "clusterfoundryproject"
CLUSTER_PROJECT_SHORT_NAMES: Final = ("cfproject",)
CLUSTER_PROJECT_CRD_NAME: Final = f"{CLUSTER_PROJECT_PLURAL}.{GROUP}"
