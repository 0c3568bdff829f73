"""Money as integer fen (分): exact parsing of yuan amounts and formatting; never a float."""

from __future__ import annotations

import re

from shugu.errors import InvalidInput

# Upper bound on any price: 10^14 fen (one trillion yuan) keeps sums far inside BIGINT.
MAX_FEN = 10**14
_YUAN = re.compile(r"^(\d+)(?:\.(\d+))?$")


def yuan_to_fen(text: str) -> int:
    """"12.34" yuan -> 1234 fen. Refuses signs, exponents, separators and sub-fen digits
    rather than rounding them away."""
    if not isinstance(text, str):
        raise InvalidInput("a yuan amount must be given as text, e.g. \"12.50\"",
                           code="invalid_amount")
    m = _YUAN.match(text.strip())
    if m is None:
        raise InvalidInput(f"{text!r} is not an amount in yuan such as 12 or 12.50",
                           code="invalid_amount")
    whole, frac = m.group(1), m.group(2) or ""
    if len(frac) > 2 and frac[2:].strip("0"):
        raise InvalidInput(f"{text!r} has a fraction of a fen; give at most two decimals",
                           code="sub_fen_amount")
    fen = int(whole) * 100 + int((frac[:2] or "0").ljust(2, "0"))
    check_fen(fen)
    return fen


def check_fen(fen: int) -> int:
    if type(fen) is not int:
        raise InvalidInput("amounts are whole fen (integers)", code="invalid_amount")
    if not 0 <= fen <= MAX_FEN:
        raise InvalidInput(f"amount must be between 0 and {MAX_FEN} fen", code="invalid_amount")
    return fen


def fen_to_yuan(fen: int) -> str:
    """1234 -> "12.34" (exact, integer arithmetic only)."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{cents:02d}"
