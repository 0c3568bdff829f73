"""Money arithmetic in integer fen (分). No float ever touches an amount.

Every division that can leave a fraction (a price per 1,000 rows, per GB, a percentage) is
done once, on integers, with one documented rounding rule, so an invoice can be recomputed
to the fen by anyone holding its lines.
"""

from __future__ import annotations

import re

from shugu.errors import InvalidInput

BASIS_POINTS = 10_000  # 100 %
ROWS_UNIT = 1_000
BYTES_PER_GB = 1_000_000_000  # decimal gigabyte, as storage and transfer are priced

_YUAN = re.compile(r"^(?P<int>\d+)(?:\.(?P<frac>\d{1,2}))?$")


def div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (both non-negative integers)."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("div_half_up takes a non-negative numerator and positive denominator")
    return (2 * numerator + denominator) // (2 * denominator)


def metered_amount(quantity: int, unit_price_fen: int, unit_size: int) -> int:
    """The price of `quantity` base units when `unit_price_fen` buys `unit_size` of them
    (1 per query, 1,000 rows, 10^9 bytes), rounded half up to the fen once per line."""
    return div_half_up(quantity * unit_price_fen, unit_size)


def share_of(total_fen: int, basis_points: int) -> int:
    """A percentage share of an amount, rounded down (the remainder goes to the provider)."""
    return total_fen * basis_points // BASIS_POINTS


def yuan(fen: int) -> str:
    """Fen as a yuan string with exactly two decimals: 12345 → "123.45", -5 → "-0.05"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def parse_yuan(text: str) -> int:
    """A yuan amount written by a person ("12", "12.3", "12.30") as fen; refuses anything
    finer than a fen, negative, or not a plain decimal number."""
    m = _YUAN.match(text.strip())
    if m is None:
        raise InvalidInput(f"{text!r} is not an amount in yuan with at most two decimals",
                           code="invalid_amount")
    return int(m["int"]) * 100 + int((m["frac"] or "0").ljust(2, "0"))
