"""Python's reading of Kubernetes quantities agrees with the apiserver's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from foundry_operator.api.quantity import (
    cores_as_decimal_string,
    is_quantity,
    parse_quantity,
    quantity_in_range,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("250m", Decimal("0.25")),
        ("0.5", Decimal("0.5")),
        (".5", Decimal("0.5")),
        ("2Gi", Decimal(2 * 2**30)),
        ("0.5Gi", Decimal(2**29)),
        ("512Mi", Decimal(2**29)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("1E-3", Decimal("0.001")),
    ],
)
def test_quantities_parse_to_exact_values(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "lots", "2 Gi", "2GB", "1.2.3", "Gi", "0x10", "1gi"])
def test_non_quantities_are_refused(text: str) -> None:
    assert not is_quantity(text)
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)


def test_range_is_inclusive_and_unit_aware() -> None:
    assert quantity_in_range("512Mi", "512Mi", "8Gi")
    assert quantity_in_range("0.5Gi", "512Mi", "8Gi")
    assert quantity_in_range("8192Mi", "512Mi", "8Gi")
    assert not quantity_in_range("8193Mi", "512Mi", "8Gi")
    assert not quantity_in_range("nope", "512Mi", "8Gi")


@pytest.mark.parametrize(
    ("cpu", "wire"),
    [
        ("500m", "0.5"),
        ("250m", "0.25"),
        ("1000m", "1"),
        ("1500m", "1.5"),
        ("1", "1"),
        ("0.5", "0.5"),
        ("2", "2"),
    ],
)
def test_millicores_are_sent_as_decimal_cores(cpu: str, wire: str) -> None:
    assert cores_as_decimal_string(cpu) == wire
