"""Kubernetes resource quantities (``"500m"``, ``"1"``, ``"2Gi"``) as exact decimals.

The CRD checks cpu and memory with CEL's ``quantity()``; the operator re-validates every spec
it reads with the pydantic models, so Python needs the same parser. Only parsing and
comparison are needed, never formatting back to a canonical string.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

# The grammar of k8s.io/apimachinery/pkg/api/resource: a signed decimal number followed by an
# optional binary suffix, decimal suffix or decimal exponent.
_QUANTITY_RE: Final = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
)

_MULTIPLIERS: Final[dict[str, Decimal]] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(text: str) -> Decimal:
    """The value of a Kubernetes quantity; ValueError when ``text`` is not one."""
    match = _QUANTITY_RE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix[:1] in ("e", "E"):
        try:
            return number.scaleb(int(suffix[1:]))
        except (InvalidOperation, ValueError) as exc:  # pragma: no cover - regex guards this
            raise ValueError(f"{text!r} is not a Kubernetes quantity") from exc
    return number * _MULTIPLIERS[suffix]


def is_quantity(text: str) -> bool:
    return _QUANTITY_RE.match(text) is not None


def quantity_in_range(text: str, low: str, high: str) -> bool:
    """Whether ``text`` is a quantity with ``low <= text <= high`` (bounds are quantities)."""
    if not is_quantity(text):
        return False
    return parse_quantity(low) <= parse_quantity(text) <= parse_quantity(high)


def cores_as_decimal_string(text: str) -> str:
    """A cpu quantity written the way Foundry's samples write it: ``"500m"`` becomes ``"0.5"``.

    Kubernetes users write millicores out of habit; Foundry documents decimal cores ("0.25",
    "1"). Other spellings are returned unchanged so that what the user wrote is what Foundry
    sees whenever it is already in Foundry's form.
    """
    if not text.endswith("m") or not is_quantity(text):
        return text
    cores = parse_quantity(text).normalize()
    # normalize() may give exponent notation ("1E+1"); format as plain fixed-point.
    return format(cores, "f")
