"""Failure rules: which images fail to provision, and how.

Kept apart from the fault injector: a failure rule is a property of the *version* (its
image or environment: the version fails however often you ask), a fault is a property of
the *transport*.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from dataclasses import dataclass
from typing import Any

from .config import FailureMode, FailureRule


@dataclass(frozen=True)
class ProvisioningFailure:
    code: str
    message: str
    mode: FailureMode
    http_status: int
    delay_seconds: float | None
    # not_answering: the container's last stderr lines, placeholders filled in.
    stderr: tuple[str, ...] = ()


_ids = itertools.count(1)


class FailureRules:
    """An ordered rule list; the first rule whose pattern matches the image wins."""

    def __init__(self, rules: list[FailureRule]) -> None:
        self._rules: list[tuple[FailureRule, re.Pattern[str] | None]] = []
        self.replace(rules)

    def replace(self, rules: list[FailureRule]) -> None:
        self._rules = [self._compile(rule) for rule in rules]

    def add(self, rule: FailureRule, *, first: bool = True) -> FailureRule:
        compiled = self._compile(rule)
        if first:
            self._rules.insert(0, compiled)
        else:
            self._rules.append(compiled)
        return compiled[0]

    def remove(self, rule_id: str) -> bool:
        before = len(self._rules)
        self._rules = [(r, p) for r, p in self._rules if r.id != rule_id]
        return len(self._rules) != before

    def list(self) -> list[FailureRule]:
        return [rule for rule, _ in self._rules]

    def match(self, definition: dict[str, Any]) -> ProvisioningFailure | None:
        image = _image_of(definition)
        env = _env_of(definition)
        for rule, pattern in self._rules:
            if pattern is not None and (image is None or not pattern.search(image)):
                continue
            if not all(
                name in env and fnmatch.fnmatchcase(env[name], glob)
                for name, glob in rule.env_match.items()
            ):
                continue
            missing = [name for name in rule.env_missing if not env.get(name)]
            if rule.env_missing and not missing:
                continue
            values = {
                "{image}": image or "",
                "{code}": rule.code,
                "{missing_env}": missing[0] if missing else "",
            }
            return ProvisioningFailure(
                code=rule.code,
                message=_fill(rule.message, values, env),
                mode=rule.mode,
                http_status=rule.http_status,
                delay_seconds=rule.delay_seconds,
                stderr=tuple(_fill(line, values, env) for line in rule.stderr),
            )
        return None

    @staticmethod
    def _compile(rule: FailureRule) -> tuple[FailureRule, re.Pattern[str] | None]:
        if rule.id is None:
            rule = rule.model_copy(update={"id": f"rule-{next(_ids)}"})
        pattern: re.Pattern[str] | None = None
        if rule.regex is not None:
            pattern = re.compile(rule.regex)
        elif rule.match is not None:
            pattern = re.compile(fnmatch.translate(rule.match))
        return rule, pattern


# `{env:NAME}` echoes an environment value, `{env:NAME:N}` its Nth line (1-based): services
# do quote configuration back in errors, and the operator must redact what they quote.
_ENV_PLACEHOLDER = re.compile(r"\{env:([A-Za-z_][A-Za-z0-9_]*)(?::([1-9][0-9]*))?\}")


def _fill(text: str, values: dict[str, str], env: dict[str, str]) -> str:
    """Substitute ``{image}``, ``{code}``, ``{missing_env}``, then ``{env:...}``; anything
    else in braces (``{session}``, filled per request) is left alone."""
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return _echo_env(text, env)


def _echo_env(message: str, values: dict[str, str]) -> str:
    def value(found: re.Match[str]) -> str:
        text = str(values.get(found.group(1), ""))
        if found.group(2) is None:
            return text
        lines = text.splitlines()
        n = int(found.group(2))
        return lines[n - 1] if n <= len(lines) else ""

    return _ENV_PLACEHOLDER.sub(value, message)


def _env_of(definition: dict[str, Any]) -> dict[str, str]:
    env = definition.get("environment_variables")
    if not isinstance(env, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def _image_of(definition: dict[str, Any]) -> str | None:
    container = definition.get("container_configuration")
    if isinstance(container, dict) and isinstance(container.get("image"), str):
        image: str = container["image"]
        return image
    return None
