"""Money is integer fen end to end: exact yuan parsing, and floats refused by the API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shugu.client import Client
from shugu.contracts.money import MAX_FEN, fen_to_yuan, yuan_to_fen
from shugu.errors import InvalidInput
from tests.contracts.conftest import SLUG, api_error, make_policy

fens = st.integers(min_value=0, max_value=MAX_FEN)


@given(fens)
def test_yuan_text_round_trips(fen: int) -> None:
    assert yuan_to_fen(fen_to_yuan(fen)) == fen
    assert Decimal(fen_to_yuan(fen)) * 100 == fen


@given(fens, st.integers(min_value=0, max_value=6))
def test_trailing_zeros_are_exact(fen: int, zeros: int) -> None:
    assert yuan_to_fen(fen_to_yuan(fen) + "0" * zeros) == fen


@given(fens, st.integers(min_value=1, max_value=9), st.integers(min_value=0, max_value=4))
def test_sub_fen_is_refused_never_rounded(fen: int, digit: int, pad: int) -> None:
    with pytest.raises(InvalidInput) as info:
        yuan_to_fen(fen_to_yuan(fen) + "0" * pad + str(digit))
    assert info.value.code == "sub_fen_amount"


@pytest.mark.parametrize(("text", "fen"), [("0", 0), ("12", 1200), ("12.5", 1250),
                                           ("12.34", 1234), (" 0.01 ", 1), ("1.10", 110)])
def test_examples(text: str, fen: int) -> None:
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["", "-1", "+1", "1e3", "1,000", "NaN", "inf", "1.",
                                  ".5", "¥1", "1 000", "0x10"])
def test_not_amounts(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        yuan_to_fen(text)
    assert info.value.code == "invalid_amount"


def test_above_the_bound() -> None:
    with pytest.raises(InvalidInput):
        yuan_to_fen(str(MAX_FEN // 100 + 1))


def test_negative_formatting() -> None:
    assert fen_to_yuan(-1) == "-0.01" and fen_to_yuan(-12345) == "-123.45"


def test_api_refuses_floats_for_money(provider: Client, product: str) -> None:
    for bad in (12.5, 10.0, "1000", -1, MAX_FEN + 1, True):
        e = api_error(lambda bad=bad: provider.create_offer(  # type: ignore[misc]
            SLUG, "x", plan="one_time", price_fen=bad, policy=make_policy()))
        assert e.status == 422, bad
    ok = provider.create_offer(SLUG, "x", plan="one_time", price_fen=123456,
                               policy=make_policy())
    assert (ok.price_fen, ok.price_yuan) == (123456, "1234.56")
    assert provider.list_offers(SLUG)[0].price_fen == 123456


def test_money_columns_are_integers() -> None:
    from sqlalchemy import BigInteger

    from shugu.contracts.models import Agreement, Offer
    for column in (Offer.__table__.c.price_fen, Agreement.__table__.c.price_fen):
        assert isinstance(column.type, BigInteger)
