"""Foundry version metadata keys that belong to the operator.

Every version the operator creates carries these keys. They are how the operator recognises
its own versions after a crash (same UID and spec hash means "already created, do not create
again") and how a person in the Foundry portal finds the Kubernetes object behind a version.
The CRD refuses user metadata keys with the reserved prefix, so users cannot forge them.

Foundry allows 16 metadata pairs per version; the reserved keys take some of them, which is
why users get ``USER_METADATA_MAX_PAIRS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# Short on purpose: keys count against Foundry's 64-character limit and show in the portal.
RESERVED_METADATA_PREFIX: Final = "k8s-"

METADATA_MANAGED_BY: Final = "k8s-managed-by"
"""Always ``MANAGED_BY_VALUE``; tells people (and other tools) who owns the version."""
METADATA_UID: Final = "k8s-uid"
"""``metadata.uid`` of the HostedAgent that created the version: the ownership test."""
METADATA_REF: Final = "k8s-ref"
"""``namespace/name`` of that HostedAgent, for people; UIDs are not readable."""
METADATA_SPEC_HASH: Final = "k8s-spec-hash"
"""The spec hash the version was created from: the idempotency key."""

MANAGED_BY_VALUE: Final = "foundry-agent-operator"

RESERVED_METADATA_KEYS: Final = (
    METADATA_MANAGED_BY,
    METADATA_UID,
    METADATA_REF,
    METADATA_SPEC_HASH,
)

FOUNDRY_METADATA_MAX_PAIRS: Final = 16
METADATA_KEY_MAX_LENGTH: Final = 64
METADATA_VALUE_MAX_LENGTH: Final = 512
USER_METADATA_MAX_PAIRS: Final = FOUNDRY_METADATA_MAX_PAIRS - len(RESERVED_METADATA_KEYS)

METADATA_KIND: Final = "k8s-kind"
"""On toolbox versions only: the kind of the owner (``FoundryToolbox``, or ``HostedAgent`` for
the toolbox of its inline ``spec.tools``), since a HostedAgent and a FoundryToolbox may share
a ``namespace/name``. Agent versions never carry it (their owner is always a HostedAgent, and
adding a key would change nothing they are matched by)."""

TOOLBOX_RESERVED_METADATA_KEYS: Final = (*RESERVED_METADATA_KEYS, METADATA_KIND)
TOOLBOX_USER_METADATA_MAX_PAIRS: Final = FOUNDRY_METADATA_MAX_PAIRS - len(
    TOOLBOX_RESERVED_METADATA_KEYS
)


def reserved_metadata(*, uid: str, namespace: str, name: str, spec_hash: str) -> dict[str, str]:
    """The reserved pairs for a version created by the HostedAgent ``namespace/name``."""
    return {
        METADATA_MANAGED_BY: MANAGED_BY_VALUE,
        METADATA_UID: uid,
        METADATA_REF: f"{namespace}/{name}",
        METADATA_SPEC_HASH: spec_hash,
    }


def is_owned_by(metadata: Mapping[str, str] | None, owner: str) -> bool:
    """Whether a Foundry version was created by the HostedAgent ``owner`` (namespace/name).

    The owner is namespace/name rather than the UID so that the same manifest applied again
    (after ``deletionPolicy: Retain``, a backup restore or a cluster migration) carries on
    with its versions; the UID is recorded for people, not for this test."""
    return (
        bool(owner)
        and metadata is not None
        and metadata.get(METADATA_MANAGED_BY) == MANAGED_BY_VALUE
        and metadata.get(METADATA_REF) == owner
    )


def is_managed(metadata: Mapping[str, str] | None) -> bool:
    """Whether a Foundry version was created by this operator (by any resource)."""
    return metadata is not None and metadata.get(METADATA_MANAGED_BY) == MANAGED_BY_VALUE


def spec_hash_of(metadata: Mapping[str, str] | None) -> str | None:
    """The spec hash recorded on a version, or None for versions we did not create."""
    return None if metadata is None else metadata.get(METADATA_SPEC_HASH)


def toolbox_reserved_metadata(
    *, uid: str, namespace: str, name: str, kind: str, spec_hash: str
) -> dict[str, str]:
    """The reserved pairs of a toolbox version created by the ``kind`` ``namespace/name``."""
    return {
        **reserved_metadata(uid=uid, namespace=namespace, name=name, spec_hash=spec_hash),
        METADATA_KIND: kind,
    }


def is_toolbox_owned_by(metadata: Mapping[str, str] | None, owner: str, kind: str) -> bool:
    """Whether a Foundry toolbox version was created by the ``kind`` ``owner`` (namespace/name)."""
    return (
        is_owned_by(metadata, owner)
        and metadata is not None
        and metadata.get(METADATA_KIND) == kind
    )
