"""spec.endpoint: settings of the agent's endpoint, which all of its versions share.

They map onto the SDK's ``AgentEndpointConfig`` (``authorization_schemes`` and
``protocol_configuration``), which Foundry keeps on the agent, not on a version: changing them
never makes a new version and never enters the spec hash. The operator PATCHes them with the
traffic routing, and on their own without touching the routing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import Field, model_validator

from foundry_operator.api.rules import CrdModel, k8s_extra

MAX_AUTHORIZATION_SCHEMES: Final = 4


class AuthorizationSchemeType(StrEnum):
    """Who may call the endpoint (the SDK's AgentEndpointAuthorizationSchemeType)."""

    ENTRA = "Entra"
    BOT_SERVICE = "BotService"
    BOT_SERVICE_RBAC = "BotServiceRbac"
    BOT_SERVICE_TENANT = "BotServiceTenant"


class AuthorizationScheme(CrdModel):
    """One way callers are authorized on the agent endpoint."""

    type: AuthorizationSchemeType = Field(
        description="Entra (Entra ID tokens with a role on the project), BotService, "
        "BotServiceRbac or BotServiceTenant (Azure Bot Service channels, e.g. Microsoft 365 "
        "and Teams through the activity protocol)."
    )


class ActivityOptions(CrdModel):
    """Options of the activity protocol (Microsoft 365 and Teams)."""

    enable_m365_public_endpoint: bool | None = Field(
        default=None,
        description="Whether Foundry opens the Microsoft 365 public endpoint for the "
        "activity protocol. Unset: Foundry's setting is left as it is.",
    )


class EndpointSpec(CrdModel):
    """Settings of the Foundry agent endpoint. Each one left unset is Foundry's to decide
    and is left as Foundry has it; removing one does not reset it (set the value you want
    instead)."""

    authorization_schemes: list[AuthorizationScheme] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_AUTHORIZATION_SCHEMES,
        description="How callers are authorized, one entry per scheme, e.g. [{type: Entra}]. "
        "Unset: as Foundry has it.",
        json_schema_extra=k8s_extra(list_type="map", list_map_keys=["type"]),
    )
    activity: ActivityOptions | None = Field(
        default=None,
        description="Options of the activity protocol; needs activity in spec.protocols.",
    )

    # list-type map makes the apiserver refuse duplicates; mirrored for specs that did not
    # pass through it.
    @model_validator(mode="after")
    def _schemes_unique(self) -> EndpointSpec:
        types = [s.type for s in self.authorization_schemes or []]
        if len(types) != len(set(types)):
            raise ValueError("spec.endpoint.authorizationSchemes must list each type once")
        return self
