"""spec.raiConfig: the Responsible AI policy Foundry applies to the agent's traffic.

Maps onto the SDK's ``RaiConfig`` and ``RaiInvocationModeration``; the "required when" rules
are the ones the SDK's docstrings state. It is part of the version's definition: changing it
makes a new version.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Final

from pydantic import Field

from foundry_operator.api.rules import CrdModel, Rule, k8s_extra

MAX_MODERATION_PATHS: Final = 32

_PREFIX = "spec.raiConfig.invocationsModeration"

ModerationPath = Annotated[str, Field(min_length=1, max_length=1024)]


class RaiContentType(StrEnum):
    """How an invocations body is read for moderation (the SDK's RaiInvocationContentType)."""

    JSON = "json"
    TEXT = "text"


class RaiResponseMode(StrEnum):
    """The response shapes of an invocations agent (the SDK's RaiInvocationMode)."""

    NON_STREAMING = "non_streaming"
    STREAMING = "streaming"
    BOTH = "both"


class SseTextSelector(CrdModel):
    """Which server-sent events of a streaming answer carry text, and in which field."""

    event_type: str = Field(
        min_length=1,
        max_length=256,
        description="The SSE event type that carries text, e.g. response.output_text.delta.",
    )
    text_field: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="The field of such an event holding the text. Foundry's default: delta.",
    )


def _reads_json(value: RaiContentType | None) -> bool:
    return value is None or value is RaiContentType.JSON


def _inputs_declared(m: InvocationsModeration) -> bool:
    return not _reads_json(m.input_content_type) or m.input_paths is not None


def _outputs_declared(m: InvocationsModeration) -> bool:
    needs = m.response_mode in (RaiResponseMode.NON_STREAMING, RaiResponseMode.BOTH)
    return not needs or not _reads_json(m.output_content_type) or m.output_paths is not None


def _selectors_declared(m: InvocationsModeration) -> bool:
    needs = m.response_mode in (RaiResponseMode.STREAMING, RaiResponseMode.BOTH)
    return not needs or not _reads_json(m.output_content_type) or m.stream_selectors is not None


_OUTPUT_TEXT = "(has(self.outputContentType) && self.outputContentType == 'text')"


class InvocationsModeration(CrdModel):
    """Where user and agent text lives in the invocations protocol's own request and
    response bodies, so that the content-safety guardrails can find and moderate it."""

    cel_rules: ClassVar[tuple[Rule, ...]] = (
        Rule(
            "(has(self.inputContentType) && self.inputContentType == 'text') || "
            "has(self.inputPaths)",
            f"{_PREFIX}.inputPaths is required when inputContentType is json (the default)",
            check=_inputs_declared,
            field_path=".inputPaths",
            reason="FieldValueRequired",
        ),
        Rule(
            f"self.responseMode == 'streaming' || {_OUTPUT_TEXT} || has(self.outputPaths)",
            f"{_PREFIX}.outputPaths is required when responseMode is non_streaming or both "
            "and outputContentType is json (the default)",
            check=_outputs_declared,
            field_path=".outputPaths",
            reason="FieldValueRequired",
        ),
        Rule(
            f"self.responseMode == 'non_streaming' || {_OUTPUT_TEXT} || has(self.streamSelectors)",
            f"{_PREFIX}.streamSelectors is required when responseMode is streaming or both "
            "and outputContentType is json (the default)",
            check=_selectors_declared,
            field_path=".streamSelectors",
            reason="FieldValueRequired",
        ),
    )

    response_mode: RaiResponseMode = Field(
        description="How the agent answers: non_streaming, streaming or both. It decides "
        "which of outputPaths and streamSelectors are needed."
    )
    input_content_type: RaiContentType | None = Field(
        default=None,
        description="How a request body is read: json (at inputPaths) or text (the whole "
        "body). Foundry's default: json.",
    )
    output_content_type: RaiContentType | None = Field(
        default=None,
        description="How a response body is read: json (at outputPaths and streamSelectors) "
        "or text (the whole body). Foundry's default: json.",
    )
    input_paths: list[ModerationPath] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MODERATION_PATHS,
        description="Paths to the user's text in a request body. Required when requests are "
        "read as json.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    output_paths: list[ModerationPath] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MODERATION_PATHS,
        description="Paths to the agent's text in a non-streaming response body. Required "
        "when responseMode is non_streaming or both and responses are read as json.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )
    stream_selectors: list[SseTextSelector] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MODERATION_PATHS,
        description="The events of a streaming answer that carry text, one per event type. "
        "Required when responseMode is streaming or both and responses are read as json.",
        json_schema_extra=k8s_extra(list_type="atomic"),
    )


class RaiConfig(CrdModel):
    """The Responsible AI (content filtering and safety) policy of the agent."""

    rai_policy_name: str = Field(
        min_length=1,
        max_length=1024,
        description="Name of the RAI policy Foundry applies, e.g. Microsoft.DefaultV2 or a "
        "policy of your own.",
    )
    invocations_moderation: InvocationsModeration | None = Field(
        default=None,
        description="Where the text is in invocations requests and responses. Unset: "
        "requests and answers of the invocations protocol get no content-safety moderation.",
    )
