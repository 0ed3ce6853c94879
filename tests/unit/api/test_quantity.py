"""parse_quantity: the value of a Kubernetes quantity, and a ValueError for what the API refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bizdomain.api import parse_quantity
from bizdomain.api.common import ResourceList

BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL: dict[str, int | Decimal] = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("1", 1),
        ("2", 2),
        ("500m", Decimal("0.5")),
        ("0.5", Decimal("0.5")),
        (".5", Decimal("0.5")),
        ("1.", 1),
        ("1.5", Decimal("1.5")),
        ("100m", Decimal("0.1")),
        ("250n", Decimal("0.00000025")),
        ("3u", Decimal("0.000003")),
        ("1k", 1000),
        ("1M", 10**6),
        ("4G", 4 * 10**9),
        ("1T", 10**12),
        ("1P", 10**15),
        ("1E", 10**18),
        ("1Ki", 1024),
        ("128Mi", 128 * 2**20),
        ("1Gi", 2**30),
        ("1.5Gi", 3 * 2**29),
        ("1Ti", 2**40),
        ("1Pi", 2**50),
        ("1Ei", 2**60),
        ("1e3", 1000),
        ("1E3", 1000),
        ("5e-3", Decimal("0.005")),
        ("2e+2", 200),
        (" 2 ", 2),
        (7, 7),
    ],
)
def test_parse_quantity(text: str | int, value: int | Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("a", "b"),
    [("1Gi", "1024Mi"), ("0.5", "500m"), ("1", "1000m"), ("1k", "1000"), ("1Mi", "1024Ki"), ("1e3", "1k")],
)
def test_equal_quantities_have_equal_values(a: str, b: str) -> None:
    assert parse_quantity(a) == parse_quantity(b)


def test_a_leading_plus_parses_as_the_api_server_admits_it() -> None:
    # The CEL rule (isQuantity, not below 0) admits "+1": the parser must agree, or a stored spec
    # could not be parsed and its binding would be held (see tests/unit/test_decide.py).
    assert parse_quantity("+1") == 1
    assert parse_quantity("+500m") == Decimal("0.5")


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "-1",
        "++1",
        "4 cores",
        "1K",
        "1gi",
        "1GB",
        "1Gii",
        "one",
        "1.2.3",
        "Gi",
        "m",
        ".",
        "1e",
        "1e3m",
        "0x10",
        "1_000",
        -1,
    ],
)
def test_not_quantities_are_refused(text: str | int) -> None:
    with pytest.raises(ValueError, match="not a valid Kubernetes quantity"):
        parse_quantity(text)


@settings(max_examples=200, deadline=None)
@given(number=st.integers(0, 10**6), suffix=st.sampled_from(sorted(BINARY)))
def test_property_binary_suffixes_multiply_by_powers_of_two(number: int, suffix: str) -> None:
    assert parse_quantity(f"{number}{suffix}") == number * BINARY[suffix]


@settings(max_examples=200, deadline=None)
@given(number=st.integers(0, 10**6), suffix=st.sampled_from(sorted(DECIMAL)))
def test_property_decimal_suffixes_multiply_by_powers_of_ten(number: int, suffix: str) -> None:
    assert parse_quantity(f"{number}{suffix}") == number * DECIMAL[suffix]


@settings(max_examples=100, deadline=None)
@given(milli=st.integers(0, 10**6))
def test_property_milli_and_decimal_forms_agree(milli: int) -> None:
    assert parse_quantity(f"{milli}m") == parse_quantity(str(Decimal(milli) / 1000))


# --- the attacker: a quantity so large that arithmetic on it fails -------------------------------
# "1e5000" is a valid Kubernetes quantity; summed as a Decimal it is fine, but shown as an integer it
# passes Python's 4300-digit limit, and "1e9999999" overflows the Decimal context: either one in a
# binding would raise inside the planner and stop the passes of every domain on the member. A spec
# holds at most 8Ei (CEL and the model); the parser reads sums of those and refuses the absurd.


class Quota(BaseModel):
    hard: ResourceList


@pytest.mark.parametrize("text", ["1e5000", "1e9999999", "9Ei", "10E", "9223372036854775809"])
def test_a_spec_quantity_above_8Ei_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="too large"):
        Quota(hard={"pods": text})


@pytest.mark.parametrize("text", ["8Ei", "9223372036854775807", "1E", "1e18", 2**63 - 1])
def test_a_spec_quantity_up_to_8Ei_is_accepted(text: str | int) -> None:
    assert Quota(hard={"pods": text}).hard["pods"] == str(text)


@pytest.mark.parametrize("text", ["1e5000", "1e9999999", "1" + "0" * 40])
def test_the_parser_refuses_what_arithmetic_would_choke_on(text: str) -> None:
    with pytest.raises(ValueError, match="too large"):
        parse_quantity(text)


def test_the_parser_still_reads_sums_of_specs_above_8Ei() -> None:
    assert parse_quantity("320Ei") == 320 * 2**60
