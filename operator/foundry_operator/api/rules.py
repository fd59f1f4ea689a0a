"""Validation rules declared once, enforced twice: by the API server and by the operator.

A ``Rule`` carries a CEL expression (emitted into the CRD as ``x-kubernetes-validations``)
and, when it can be expressed in Python, the same check as a predicate (run by pydantic when
the operator reads a spec). The apiserver is the gate users meet; the Python check protects
the operator from objects stored before a rule existed (CEL ratcheting lets unchanged invalid
values through) or from a cluster running an older CRD.

Use a rule as ``Annotated[str, Rule(...)]`` on a field, or list it in ``CrdModel.cel_rules``
for rules that look at several fields of one object. Transition rules (those that read
``oldSelf``) have no Python side: the operator never sees the old object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

VALIDATIONS_KEY = "x-kubernetes-validations"


@dataclass(frozen=True)
class Rule:
    """One CEL validation rule with the message a person sees when it fails."""

    rule: str
    message: str
    check: Callable[[Any], bool] | None = None
    # Optional CRD fields: which field the error points at (for rules on a parent object)
    # and the error type (FieldValueInvalid, FieldValueForbidden, FieldValueRequired, ...).
    field_path: str | None = None
    reason: str | None = None

    def to_schema(self) -> dict[str, str]:
        out = {"rule": self.rule, "message": self.message}
        if self.field_path is not None:
            out["fieldPath"] = self.field_path
        if self.reason is not None:
            out["reason"] = self.reason
        return out

    def enforce(self, value: Any) -> None:
        if self.check is not None and not self.check(value):
            raise PydanticCustomError("cel_rule", self.message)

    # pydantic hooks: used when the rule annotates a field type.
    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        inner = handler(source)
        if self.check is None:
            return inner

        def validate(value: Any) -> Any:
            self.enforce(value)
            return value

        return core_schema.no_info_after_validator_function(validate, inner)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault(VALIDATIONS_KEY, []).append(self.to_schema())
        return json_schema


def k8s_extra(
    *,
    list_type: str | None = None,
    list_map_keys: list[str] | None = None,
    map_type: str | None = None,
) -> dict[str, Any]:
    """Kubernetes schema extensions for ``Field(json_schema_extra=...)``."""
    extra: dict[str, Any] = {}
    if list_type is not None:
        extra["x-kubernetes-list-type"] = list_type
    if list_map_keys is not None:
        extra["x-kubernetes-list-map-keys"] = list_map_keys
    if map_type is not None:
        extra["x-kubernetes-map-type"] = map_type
    return extra


class CrdModel(BaseModel):
    """Base of every object in the HostedAgent schema.

    camelCase on the wire (what users write), snake_case in Python. Unknown fields are
    ignored rather than refused: the apiserver already prunes fields the CRD does not know, so
    anything extra comes from a newer CRD than this operator, and ignoring it keeps an older
    operator working during an upgrade.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        use_enum_values=False,
    )

    cel_rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _enforce_cel_rules(self) -> Any:
        for rule in type(self).cel_rules:
            rule.enforce(self)
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if cls.cel_rules:
            target = handler.resolve_ref_schema(json_schema)
            target.setdefault(VALIDATIONS_KEY, []).extend(r.to_schema() for r in cls.cel_rules)
        return json_schema
