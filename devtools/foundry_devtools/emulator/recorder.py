"""The bodies of the latest write requests, as the emulator received them.

What a client *sent* can differ from what a GET echoes (the emulator adds
``container_protocol_versions``, merges PATCHes into the stored endpoint), so a test that
asserts a client's wire format reads it here. Bounded: the oldest go first. The bodies hold
whatever the client sent, environment values included; the emulator is a test double and
keeps them in its state anyway.
"""

from __future__ import annotations

import copy
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

MAX_RECORDED: Final = 500

# Handlers put the decoded body under this key of the aiohttp request; the middleware
# records it with the answer's status.
BODY_KEY: Final = "foundry_emulator.recorded_body"


@dataclass(frozen=True)
class RecordedRequest:
    seq: int
    operation: str
    agent: str | None
    body: Any
    status: int

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "operation": self.operation,
            "agent": self.agent,
            "body": self.body,
            "status": self.status,
        }


class RequestRecorder:
    def __init__(self, limit: int = MAX_RECORDED) -> None:
        self._recorded: deque[RecordedRequest] = deque(maxlen=limit)
        self._seq = itertools.count(1)

    def record(self, operation: str, agent: str | None, body: Any, status: int) -> None:
        self._recorded.append(
            RecordedRequest(next(self._seq), operation, agent, copy.deepcopy(body), status)
        )

    def matching(
        self, *, operation: str | None = None, agent: str | None = None
    ) -> list[RecordedRequest]:
        return [
            r
            for r in self._recorded
            if (operation is None or r.operation == operation)
            and (agent is None or r.agent == agent)
        ]

    def clear(self) -> None:
        self._recorded.clear()
