"""Transport faults injected in front of the project API: latency, error statuses, drops."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from .config import FaultKind, FaultRule

# The token endpoint is outside the default scope: a fault there would test azure-identity,
# not the operator, and would make every other fault test flaky.
_OPT_IN_OPERATIONS = frozenset({"token"})

_DEFAULT_CODES = {429: "rate_limit_exceeded", 500: "server_error", 503: "service_unavailable"}


@dataclass(frozen=True)
class FaultDecision:
    delay_seconds: float = 0.0
    drop: bool = False
    status: int | None = None
    retry_after: float | None = None
    code: str = ""
    message: str = ""
    rule_id: str | None = None
    # True: run the handler first (the change is applied), then answer with ``status``.
    after: bool = False


@dataclass
class _Armed:
    rule: FaultRule
    remaining: int | None


class FaultInjector:
    """Decides, per request, which faults fire. Not thread-safe: used from the event loop."""

    def __init__(self, rules: list[FaultRule] | None = None, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self._ids = itertools.count(1)
        self._rules: list[_Armed] = []
        self.fired: dict[str, int] = {}
        for rule in rules or []:
            self.add(rule)

    def add(self, rule: FaultRule) -> FaultRule:
        if rule.id is None or any(a.rule.id == rule.id for a in self._rules):
            rule = rule.model_copy(update={"id": f"fault-{next(self._ids)}"})
        self._rules.append(_Armed(rule, rule.count))
        return rule

    def remove(self, rule_id: str) -> bool:
        before = len(self._rules)
        self._rules = [a for a in self._rules if a.rule.id != rule_id]
        return len(self._rules) != before

    def clear(self) -> None:
        self._rules.clear()

    def list(self) -> list[dict[str, object]]:
        return [{**a.rule.model_dump(mode="json"), "remaining": a.remaining} for a in self._rules]

    def decide(self, operation: str) -> FaultDecision:
        delay = 0.0
        for armed in list(self._rules):
            rule = armed.rule
            if not self._applies(rule, operation) or not self._fires(armed):
                continue
            self.fired[rule.id or ""] = self.fired.get(rule.id or "", 0) + 1
            if rule.kind is FaultKind.LATENCY:
                jitter = self._random.uniform(0, rule.jitter_ms) if rule.jitter_ms else 0.0
                delay += (rule.latency_ms + jitter) / 1000.0
                continue
            if rule.kind is FaultKind.DROP:
                return FaultDecision(delay_seconds=delay, drop=True, rule_id=rule.id)
            retry_after = rule.retry_after
            if retry_after is None and rule.status == 429:
                retry_after = 1.0
            return FaultDecision(
                delay_seconds=delay,
                status=rule.status,
                retry_after=retry_after,
                code=rule.code or _DEFAULT_CODES.get(rule.status, "injected_fault"),
                message=rule.message
                or f"Injected fault: HTTP {rule.status} for operation '{operation}'.",
                rule_id=rule.id,
                after=rule.kind is FaultKind.APPLY_THEN_STATUS,
            )
        return FaultDecision(delay_seconds=delay)

    @staticmethod
    def _applies(rule: FaultRule, operation: str) -> bool:
        if rule.operations:
            return operation in rule.operations
        return operation not in _OPT_IN_OPERATIONS

    def _fires(self, armed: _Armed) -> bool:
        if armed.rule.rate < 1.0 and self._random.random() >= armed.rule.rate:
            return False
        if armed.remaining is not None:
            armed.remaining -= 1
            if armed.remaining <= 0:
                self._rules.remove(armed)
        return True
