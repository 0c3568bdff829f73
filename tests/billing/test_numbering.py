"""One calendar for every number: agreements, invoices, settlements and vouchers carry the
year in China Standard Time (UTC+8), also across the UTC/CST year boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shugu.billing.periods import document_number
from tests.billing.conftest import Market

# 2026-12-31T16:30Z is 2027-01-01 00:30 in Beijing.
NEW_YEAR_CST = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize(("ts", "year"), [
    (NEW_YEAR_CST - timedelta(microseconds=1), 2026),
    (NEW_YEAR_CST, 2027),
    (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), 2027),
    (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), 2027),
    (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), 2027),
    (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), 2026),
    (datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC), 2025),
])
def test_the_year_is_the_cst_year(ts: datetime, year: int) -> None:
    assert document_number("SG-INV", ts, 42) == f"SG-INV-{year}-000042"
    # Any zone in, the same instant, the same number.
    assert document_number("SG-INV", ts.astimezone(), 42) == f"SG-INV-{year}-000042"


def test_every_number_made_just_after_beijing_new_year_says_2027(
        market: Market, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole chain at 00:10–00:30 on 1 January in Beijing, still 31 December in UTC:
    agreement, invoice, settlement and voucher all numbered 2027."""
    from shugu.billing import invoicing, settlement, vouchers
    from shugu.contracts import agreements

    concluded = NEW_YEAR_CST + timedelta(minutes=10)
    billed = NEW_YEAR_CST + timedelta(minutes=30)
    monkeypatch.setattr(agreements, "utcnow", lambda: concluded)
    for module in (invoicing, settlement, vouchers):
        monkeypatch.setattr(module, "utcnow", lambda: billed)
    deal = market.agree("one_time", 100_00)
    assert deal.number.startswith("SG-AGR-2027-")
    [invoice] = market.operator.run_billing(until=NEW_YEAR_CST + timedelta(minutes=20))
    assert invoice.issued_at == billed
    assert invoice.number.startswith("SG-INV-2027-")
    stl = market.operator.settle()
    assert stl.number.startswith("SG-STL-2027-")
    [voucher] = market.consumer.vouchers().items
    assert voucher.number.startswith("SG-VCH-2027-")
