"""The HostedAgent API: pydantic models that are the single source of the CRD schema.

`spec` and `status` hold the models, `reserved` the Foundry metadata keys the operator owns,
`resource` the group/version/names, and `crdgen` turns the models into `crds/*.yaml`.
"""

from foundry_operator.api.resource import API_VERSION, GROUP, KIND, PLURAL, VERSION
from foundry_operator.api.spec import HostedAgentSpec, resolve_agent_name
from foundry_operator.api.status import Condition, ConditionStatus, HostedAgentStatus, Phase

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "Condition",
    "ConditionStatus",
    "HostedAgentSpec",
    "HostedAgentStatus",
    "Phase",
    "resolve_agent_name",
]
