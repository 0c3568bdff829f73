"""Money arithmetic: exact integers, one rounding rule, splits that always add up."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shugu.billing.money import div_half_up, metered_amount, parse_yuan, yuan
from shugu.billing.periods import CST, add_months, month_start, subscription_starts
from shugu.billing.splits import Split
from shugu.errors import InvalidInput

amounts = st.integers(min_value=0, max_value=10**15)


@given(st.integers(min_value=0, max_value=10**18), st.integers(min_value=1, max_value=10**12))
def test_div_half_up_is_exact_rounding(n: int, d: int) -> None:
    exact = Fraction(n, d)
    q = div_half_up(n, d)
    assert abs(Fraction(q) - exact) <= Fraction(1, 2)
    # Halves go up.
    if exact - int(exact) == Fraction(1, 2):
        assert q == int(exact) + 1


def test_metered_amounts() -> None:
    assert metered_amount(5000, 30, 1000) == 150            # 5,000 rows at ¥0.30 / 1,000
    assert metered_amount(1499, 1, 1000) == 1               # 1.499 fen → 1
    assert metered_amount(1500, 1, 1000) == 2               # 1.5 fen → 2
    assert metered_amount(1499, 1, 1000) + metered_amount(1, 1, 1000) == 1
    assert metered_amount(3 * 10**9 + 5 * 10**8, 1000, 10**9) == 3500  # 3.5 GB at ¥10
    assert metered_amount(0, 999, 1) == 0


@given(amounts, st.integers(0, 10_000), st.integers(0, 10_000))
def test_split_adds_up_and_is_never_negative(total: int, broker: int, platform: int) -> None:
    if broker + platform > 10_000:
        broker, platform = broker // 2, platform // 2
    split = Split(10_000 - broker - platform, broker, platform, 7 if broker else None)
    p, b, f = split.amounts(total)
    assert p + b + f == total
    assert min(p, b, f) >= 0
    assert b == total * broker // 10_000 and f == total * platform // 10_000


def test_split_example() -> None:
    # ¥1,000.01 at 85 / 5 / 10 %: broker and platform round down, provider takes the rest.
    assert Split(8500, 500, 1000, 3).amounts(100001) == (85001, 5000, 10000)


@given(amounts)
def test_yuan_roundtrip(fen: int) -> None:
    assert parse_yuan(yuan(fen)) == fen


@pytest.mark.parametrize("text,fen", [("12", 1200), ("12.3", 1230), ("12.30", 1230),
                                      ("0.01", 1), (" 7.05 ", 705), ("0", 0)])
def test_parse_yuan(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["1.234", "-1", "1e3", "1,000", "", "¥5", "0.1.2", "nan"])
def test_parse_yuan_refuses(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_yuan(text)
    assert info.value.code == "invalid_amount"


def test_yuan_formatting() -> None:
    assert [yuan(x) for x in (0, 5, 100, 12345, -5)] == ["0.00", "0.05", "1.00", "123.45",
                                                          "-0.05"]


def test_months_clamp_without_drift() -> None:
    start = datetime(2026, 1, 31, 2, 0, tzinfo=CST)
    assert add_months(start, 1) == datetime(2026, 2, 28, 2, 0, tzinfo=CST)
    assert add_months(start, 2) == datetime(2026, 3, 31, 2, 0, tzinfo=CST)  # not the 28th
    assert add_months(datetime(2024, 1, 31, tzinfo=CST), 1).day == 29
    assert add_months(start, 12) == datetime(2027, 1, 31, 2, 0, tzinfo=CST)


def test_month_start_is_in_china_standard_time() -> None:
    # 16:30 UTC on 31 October is 00:30 on 1 November in Beijing.
    assert month_start(datetime(2026, 10, 31, 16, 30, tzinfo=UTC)) == \
        datetime(2026, 11, 1, tzinfo=CST)


def test_subscription_starts() -> None:
    begin = datetime(2026, 1, 15, tzinfo=CST)
    until = datetime(2026, 4, 15, tzinfo=CST)
    assert subscription_starts(begin, "month", until, None) == [
        begin, datetime(2026, 2, 15, tzinfo=CST), datetime(2026, 3, 15, tzinfo=CST)]
    assert subscription_starts(begin, "month", until, datetime(2026, 2, 1, tzinfo=CST)) == \
        [begin]
    assert subscription_starts(begin, "year", until, None) == [begin]
