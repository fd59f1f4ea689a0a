"""The status a report becomes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from foundry_operator.api.status import HostedAgentStatus, Phase
from foundry_operator.reconcile.conditions import find_condition
from foundry_operator.reconcile.errors import Failure, Reason
from foundry_operator.reconcile.report import Report, build_status

pytestmark = pytest.mark.unit


def test_a_failure_keeps_what_the_report_says_still_holds() -> None:
    previous = HostedAgentStatus(phase=Phase.READY, serving_version="1")
    failure = Failure(Reason.SECRET_NOT_FOUND, "SecretNotFound", "Secret 'creds' not found")
    report = Report(
        Phase.PROVISIONING, "a", failure=failure, serving="1", message="version 1 keeps serving"
    )
    status = build_status(previous, report, generation=2, now=datetime.now(UTC))
    ready = find_condition(status.conditions, "Ready")
    assert ready is not None and ready.reason == "SecretNotFound"
    assert ready.message.startswith("Secret 'creds' not found; version 1 keeps serving. ")
    assert status.serving_version == "1"
    assert status.last_error is not None
    assert status.last_error.message == "Secret 'creds' not found"
