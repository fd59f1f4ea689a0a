"""spec.telemetryConfig: where the agent's container logs, traces and metrics are exported.

Maps onto the SDK's ``TelemetryConfig`` (``OtlpTelemetryEndpoint``,
``HeaderTelemetryEndpointAuth``). It is part of the version's definition: changing it makes a
new version.

Credentials for a collector are references only, because that is all the definition holds:
``HeaderTelemetryEndpointAuth`` names a secret store or project connection in Foundry and a
key in it (``secret_id``, ``secret_key``); Foundry reads the value and sends it in the named
header. No header value passes through the manifest, the operator or status.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from foundry_operator.api import patterns
from foundry_operator.api.rules import CrdModel, Rule, k8s_extra

MAX_TELEMETRY_ENDPOINTS: Final = 8

_HEADER_NAME_RE = patterns.matcher(patterns.HTTP_HEADER_NAME)


def is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class TelemetryEndpointKind(StrEnum):
    """Kinds of export endpoint (the SDK's TelemetryEndpointKind)."""

    OTLP = "OTLP"


class TelemetryTransport(StrEnum):
    """How an OTLP endpoint is spoken to (the SDK's TelemetryTransportProtocol)."""

    HTTP = "Http"
    GRPC = "Grpc"


class TelemetryData(StrEnum):
    """What an endpoint receives (the SDK's TelemetryDataKind)."""

    CONTAINER_STDOUT_STDERR = "ContainerStdoutStderr"
    CONTAINER_OTEL = "ContainerOtel"
    METRICS = "Metrics"


class TelemetryAuthType(StrEnum):
    """Ways to authenticate to an endpoint (the SDK's TelemetryEndpointAuthType)."""

    HEADER = "header"


class TelemetryAuth(CrdModel):
    """A header Foundry adds to every export, its value read by Foundry from a secret store
    or project connection it holds. The value never appears in the manifest or in status."""

    type: TelemetryAuthType = Field(
        default=TelemetryAuthType.HEADER,
        description="Authentication type; header (the only one Foundry has) sends the secret "
        "as an HTTP header. Default header.",
    )
    header_name: Annotated[
        str,
        Field(min_length=1, max_length=256),
        Rule(
            f"self.matches('{patterns.HTTP_HEADER_NAME}')",
            "spec.telemetryConfig.endpoints[].auth.headerName must consist of letters, "
            "digits, '-' or '_', like Authorization or x-api-key",
            check=lambda v: _HEADER_NAME_RE.fullmatch(v) is not None,
        ),
    ] = Field(description="HTTP header the secret value is sent in, e.g. Authorization.")
    secret_id: str = Field(
        min_length=1,
        max_length=1024,
        description="The Foundry secret store or project connection (id or name) that holds "
        "the value. Foundry resolves it; the operator never reads it.",
    )
    secret_key: str = Field(
        min_length=1,
        max_length=256,
        description="The key within that secret store or connection whose value is sent.",
    )


class TelemetryEndpoint(CrdModel):
    """An OpenTelemetry Protocol (OTLP) collector the agent's telemetry is exported to."""

    kind: TelemetryEndpointKind = Field(
        default=TelemetryEndpointKind.OTLP,
        description="Endpoint kind; OTLP is the only one Foundry has. Default OTLP.",
    )
    endpoint: Annotated[
        str,
        Field(min_length=1, max_length=2048),
        Rule(
            "isURL(self) && url(self).getScheme() in ['http', 'https']",
            "spec.telemetryConfig.endpoints[].endpoint must be an http or https URL, like "
            "https://otel.example.com:4318",
            check=is_http_url,
        ),
    ] = Field(description="URL of the OTLP collector, e.g. https://otel.example.com:4318.")
    protocol: TelemetryTransport = Field(
        description="OTLP transport the collector speaks: Http (OTLP/HTTP) or Grpc (OTLP/gRPC)."
    )
    data: list[TelemetryData] = Field(
        max_length=len(TelemetryData),
        description="What this collector receives: ContainerStdoutStderr (the container's "
        "stdout and stderr), ContainerOtel (the OpenTelemetry signals the container emits) "
        "and Metrics (container metrics). Empty exports nothing.",
        json_schema_extra=k8s_extra(list_type="set"),
    )
    auth: TelemetryAuth | None = Field(
        default=None,
        description="How Foundry authenticates to the collector. Unset: no authentication.",
    )

    # The apiserver enforces this through list-type set; mirrored for specs that did not
    # pass through it.
    @model_validator(mode="after")
    def _data_unique(self) -> TelemetryEndpoint:
        if len(set(self.data)) != len(self.data):
            raise ValueError("spec.telemetryConfig.endpoints[].data must list each kind once")
        return self


class TelemetryConfig(CrdModel):
    """Export of the agent's container logs, traces and metrics to collectors of your own."""

    endpoints: list[TelemetryEndpoint] = Field(
        min_length=1,
        max_length=MAX_TELEMETRY_ENDPOINTS,
        description=f"The collectors, 1-{MAX_TELEMETRY_ENDPOINTS}.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
