"""The operator's own metadata keys fit Foundry's limits and identify their owner."""

from __future__ import annotations

import pytest

from foundry_operator.api import reserved

pytestmark = pytest.mark.unit


def test_reserved_keys_share_the_prefix_and_fit_foundry_limits() -> None:
    assert len(set(reserved.RESERVED_METADATA_KEYS)) == len(reserved.RESERVED_METADATA_KEYS)
    for key in reserved.RESERVED_METADATA_KEYS:
        assert key.startswith(reserved.RESERVED_METADATA_PREFIX)
        assert len(key) <= reserved.METADATA_KEY_MAX_LENGTH


def test_user_pairs_plus_reserved_pairs_fill_exactly_foundrys_sixteen() -> None:
    total = reserved.USER_METADATA_MAX_PAIRS + len(reserved.RESERVED_METADATA_KEYS)
    assert total == reserved.FOUNDRY_METADATA_MAX_PAIRS == 16


def test_reserved_metadata_identifies_the_resource_and_spec() -> None:
    meta = reserved.reserved_metadata(
        uid="0b4c-uid", namespace="team-a", name="chat", spec_hash="abc123"
    )
    assert meta == {
        "k8s-managed-by": "foundry-agent-operator",
        "k8s-uid": "0b4c-uid",
        "k8s-ref": "team-a/chat",
        "k8s-spec-hash": "abc123",
    }
    assert set(meta) == set(reserved.RESERVED_METADATA_KEYS)
    # Longest namespace (63) and name (253) still fit a metadata value.
    longest = reserved.reserved_metadata(uid="u", namespace="n" * 63, name="x" * 253, spec_hash="h")
    assert all(len(v) <= reserved.METADATA_VALUE_MAX_LENGTH for v in longest.values())


def test_ownership_is_namespace_and_name_so_a_reapplied_or_restored_object_keeps_it() -> None:
    meta = reserved.reserved_metadata(uid="u1", namespace="ns", name="a", spec_hash="h")
    assert reserved.is_owned_by(meta, "ns/a")
    # A new UID (Retain then re-apply, backup restore) is the same owner...
    restored = reserved.reserved_metadata(uid="u9", namespace="ns", name="a", spec_hash="h")
    assert reserved.is_owned_by(restored, "ns/a")
    # ...while another object is not, and neither is anything not stamped by the operator.
    assert not reserved.is_owned_by(meta, "ns/b")
    assert not reserved.is_owned_by(meta, "other/a")
    assert not reserved.is_owned_by({"k8s-ref": "ns/a"}, "ns/a")
    assert not reserved.is_owned_by({}, "ns/a")
    assert not reserved.is_owned_by(None, "ns/a")
    assert not reserved.is_owned_by({"k8s-ref": ""}, "")
    assert reserved.is_managed(meta) and not reserved.is_managed({"k8s-uid": "u1"})
    assert reserved.spec_hash_of(meta) == "h" and reserved.spec_hash_of(None) is None
