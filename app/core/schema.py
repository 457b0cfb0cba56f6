"""The base of every wire schema: camelCase on the wire, unknown fields rejected; the money type."""

from decimal import Decimal
from typing import Annotated

import msgspec
from msgspec import Meta

# Money is a decimal string (API.md): up to 12 digits, at most two decimal places, no sign, exponent,
# NaN or spaces. A JSON number is refused: a binary float cannot carry cents exactly, and a client that
# sends one has a bug we would rather show than round. Stored saved searches hold amounts of this shape.
MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
Money = Annotated[
    str,
    Meta(
        pattern=MONEY_PATTERN,
        description="an amount as a decimal string, at most 2 decimal places",
        examples=["1250000.00"],
    ),
]


class Schema(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """Base for request and response bodies."""


def amount(money: str) -> Decimal:
    """The Decimal of a `Money` string (already checked by its pattern)."""
    return Decimal(money)
