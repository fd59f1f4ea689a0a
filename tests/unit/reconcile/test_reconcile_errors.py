"""Foundry's errors become reasons a person understands, each with a remediation."""

from __future__ import annotations

import pytest

from foundry_operator.reconcile.errors import (
    REASONS,
    Reason,
    clean_message,
    describe_http_error,
    describe_version_error,
    reason_for_http_error,
    reason_for_version_error,
    redact,
)

pytestmark = pytest.mark.unit


def test_every_reason_has_a_one_line_remediation() -> None:
    assert set(REASONS) == set(Reason)
    for reason in Reason:
        text = reason.remediation
        assert text and "\n" not in text and len(text) < 240, reason
        assert text.endswith("."), reason


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("image_pull_failed", Reason.IMAGE_PULL_BACK_OFF),
        ("UnauthorizedAcrPull", Reason.IMAGE_PULL_BACK_OFF),
        ("InvalidAcrPullCredentials", Reason.IMAGE_PULL_BACK_OFF),
        ("AcrImageNotFound", Reason.INVALID_CONTAINER_IMAGE),
        ("RegistryNotFound", Reason.INVALID_CONTAINER_IMAGE),
        ("ImagePullBackOff", Reason.IMAGE_PULL_BACK_OFF),
        ("InvalidContainerImage", Reason.INVALID_CONTAINER_IMAGE),
        ("CapabilityHostNotFound", Reason.CAPABILITY_HOST_NOT_FOUND),
        ("ProtocolVersionNotSupported", Reason.PROTOCOL_VERSION_NOT_SUPPORTED),
        ("SubscriptionIsNotRegistered", Reason.SUBSCRIPTION_NOT_REGISTERED),
        ("something_new", Reason.VERSION_FAILED),
        (None, Reason.VERSION_FAILED),
    ],
)
def test_failed_version_codes_map_to_reasons(code: str | None, reason: Reason) -> None:
    assert reason_for_version_error(code) is reason


def test_version_code_matching_ignores_case() -> None:
    assert reason_for_version_error("IMAGE_PULL_FAILED") is Reason.IMAGE_PULL_BACK_OFF


@pytest.mark.parametrize(
    ("status", "code", "message", "reason"),
    [
        (None, None, "connection reset", Reason.FOUNDRY_UNAVAILABLE),
        (401, None, None, Reason.AUTHENTICATION_FAILED),
        (403, "PermissionDenied", None, Reason.AUTHENTICATION_FAILED),
        (403, "UnauthorizedAcrPull", None, Reason.IMAGE_PULL_BACK_OFF),
        (
            403,
            "preview_feature_required",
            "Hosted agents is in preview",
            Reason.FEATURE_NOT_AVAILABLE,
        ),
        (404, "AcrImageNotFound", None, Reason.INVALID_CONTAINER_IMAGE),
        (404, None, "Resource not found", Reason.ENDPOINT_NOT_FOUND),
        (400, "invalid_request_error", "cpu must be one of ...", Reason.INVALID_SPEC),
        (
            400,
            "UserError",
            "Agent has reached the maximum of 1000 versions",
            Reason.VERSION_QUOTA_EXCEEDED,
        ),
        (400, None, "Hosted Agents are not enabled in this region", Reason.FEATURE_NOT_AVAILABLE),
        (400, None, "Capability host not found for account", Reason.CAPABILITY_HOST_NOT_FOUND),
        (
            400,
            None,
            "protocol version 9.0.0 is not supported",
            Reason.PROTOCOL_VERSION_NOT_SUPPORTED,
        ),
        (409, None, "active sessions", Reason.CONFLICT),
        (408, None, None, Reason.FOUNDRY_UNAVAILABLE),
        (429, "rate_limit_exceeded", None, Reason.THROTTLED),
        (429, None, None, Reason.THROTTLED),
        (500, "server_error", None, Reason.FOUNDRY_UNAVAILABLE),
        (503, None, None, Reason.FOUNDRY_UNAVAILABLE),
        (422, None, None, Reason.INVALID_SPEC),
    ],
)
def test_http_errors_map_to_reasons(
    status: int | None, code: str | None, message: str | None, reason: Reason
) -> None:
    assert reason_for_http_error(status, code, message) is reason


def test_transient_reasons_are_exactly_the_ones_retried_automatically() -> None:
    transient = {r for r in Reason if r.transient}
    assert transient == {
        Reason.THROTTLED,
        Reason.FOUNDRY_UNAVAILABLE,
        Reason.CONFLICT,
        Reason.SECRET_NOT_FOUND,
        Reason.CREDENTIAL_UNAVAILABLE,
        # a version that does not answer (yet) is asked again with backoff
        Reason.PROBE_FAILED,
        Reason.AGENT_NOT_RESPONDING,
        Reason.CONFIG_MAP_WRITE_FAILED,
        # a toolbox that appears, and one that stops being used, are looked at again
        Reason.TOOLBOX_NOT_FOUND,
        Reason.TOOLBOX_IN_USE,
        # a project that appears or becomes Ready wakes its HostedAgents; backoff covers a
        # wake that was missed
        Reason.PROJECT_NOT_FOUND,
        Reason.PROJECT_NOT_READY,
    }


def test_a_credential_that_could_not_get_a_token_is_transient_unlike_a_foundry_401() -> None:
    assert reason_for_http_error(None, "CredentialUnavailable") is Reason.CREDENTIAL_UNAVAILABLE
    # the identity provider answered and refused the credential: a person must fix it
    assert reason_for_http_error(None, "CredentialRejected") is Reason.AUTHENTICATION_FAILED
    assert Reason.CREDENTIAL_UNAVAILABLE.transient
    assert not Reason.AUTHENTICATION_FAILED.transient
    assert reason_for_http_error(401, None) is Reason.AUTHENTICATION_FAILED


def test_one_line_of_a_multi_line_secret_is_redacted_wherever_it_is_echoed() -> None:
    pem = (
        "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nAbCdEfGh12345678\n-----END KEY-----"
    )
    text = "bad value near 'AbCdEfGh12345678' in env"
    assert "AbCdEfGh12345678" not in redact(text, [pem])
    assert "[REDACTED]" in redact(text, [pem])


def test_terminal_reasons_need_a_person() -> None:
    for reason in Reason:
        if not reason.transient:
            assert reason.needs_person, reason


def test_messages_never_include_secret_values() -> None:
    secret = "sk-live-7f3a9c2e51d84b6f"
    failure = describe_http_error(
        400, "invalid_request_error", f"env API_KEY={secret} is invalid", secret_values=[secret]
    )
    assert secret not in failure.message
    assert "[REDACTED]" in failure.message
    failed = describe_version_error("image_pull_failed", f"token {secret}", secret_values=[secret])
    assert secret not in failed.message


def test_redaction_replaces_longer_values_first_and_skips_trivial_ones() -> None:
    assert redact("abcdef and abcd", ["abcd", "abcdef"]) == "[REDACTED] and [REDACTED]"
    assert redact("retry true", ["true"]) == "retry [REDACTED]"
    assert redact("1 of 2", ["1"]) == "1 of 2"


def test_clean_message_is_one_bounded_line() -> None:
    text = clean_message("line one\nline two\t" + "x" * 5000)
    assert "\n" not in text and len(text) <= 1024 and text.startswith("line one line two")


def test_failure_for_last_error_keeps_foundry_code_or_falls_back_to_reason() -> None:
    f = describe_version_error("UnauthorizedAcrPull", "denied")
    assert (f.reason, f.code, f.message) == (
        Reason.IMAGE_PULL_BACK_OFF,
        "UnauthorizedAcrPull",
        "denied",
    )
    assert "AcrPull" in f.remediation and not f.transient
    g = describe_http_error(None)
    assert (g.code, g.message, g.transient) == ("FoundryUnavailable", "no answer", True)
