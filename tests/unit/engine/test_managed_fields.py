"""What kopf holds of an event after the operator's on.event handler has seen it carries no
managedFields; everything else stays as it came."""

from __future__ import annotations

import copy
from typing import Any

import kopf

from foundry_operator.handlers import drop_managed_fields


def raw_event() -> dict[str, Any]:
    return {
        "type": "MODIFIED",
        "object": {
            "apiVersion": "foundry.agents.dev/v1alpha1",
            "kind": "HostedAgent",
            "metadata": {
                "name": "a",
                "namespace": "ns",
                "uid": "u",
                "finalizers": ["foundry.agents.dev/finalizer"],
                "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
            },
            "spec": {"image": "example.com/agent:1"},
            "status": {"phase": "Ready"},
        },
    }


def test_the_body_kopf_keeps_loses_managed_fields_and_nothing_else() -> None:
    event = raw_event()
    # kopf's Body is a view over the event's object: the one its handlers and its patch see.
    body = kopf.Body(event["object"])
    expected = copy.deepcopy(event)
    del expected["object"]["metadata"]["managedFields"]

    drop_managed_fields(event)  # type: ignore[arg-type]

    assert event == expected
    assert "managedFields" not in body.metadata
    assert body.spec == {"image": "example.com/agent:1"}
    assert list(body.metadata.get("finalizers", [])) == ["foundry.agents.dev/finalizer"]


def test_events_without_metadata_pass_untouched() -> None:
    for event in ({"type": "BOOKMARK"}, {"type": "ERROR", "object": {"code": 410}}):
        before = copy.deepcopy(event)
        drop_managed_fields(event)  # type: ignore[arg-type]
        assert event == before
