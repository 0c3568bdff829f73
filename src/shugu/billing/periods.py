"""Billing calendars. Months are counted in China Standard Time (UTC+8, no daylight
saving), where the exchange's participants keep their books."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def month_start(ts: datetime) -> datetime:
    """The first instant of ts's calendar month in CST."""
    local = ts.astimezone(CST)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(ts: datetime, months: int) -> datetime:
    """The same wall-clock time `months` later in CST, on the last day of the month when
    the day does not exist (31 January + 1 month = 28 or 29 February)."""
    local = ts.astimezone(CST)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def period_months(period: str) -> int:
    return {"month": 1, "year": 12}[period]


def subscription_starts(valid_from: datetime, period: str, until: datetime,
                        end: datetime | None) -> list[datetime]:
    """Starts of the subscription periods that begin before `until` (and before `end`, the
    agreement's end, when it has one). Each is computed from valid_from, never from the
    previous one, so month-end clamping does not drift."""
    step = period_months(period)
    starts: list[datetime] = []
    k = 0
    while True:
        start = add_months(valid_from, k * step)
        if start >= until or (end is not None and start >= end):
            return starts
        starts.append(start)
        k += 1


def document_number(prefix: str, ts: datetime, ident: int) -> str:
    """`PREFIX-YYYY-NNNNNN`: the year is ts's year in CST, the one calendar every number of
    the exchange uses (agreements, invoices, settlements, vouchers), so a document made at
    2026-12-31T16:30Z is numbered 2027, as the participants' own books date it. The
    sequence is the row id: unique under any concurrency and not restarted each year."""
    return f"{prefix}-{ts.astimezone(CST).year}-{ident:06d}"


def month_label(ts: datetime) -> str:
    return ts.astimezone(CST).strftime("%Y-%m")


def recent_months(now: datetime, count: int) -> list[tuple[str, datetime, datetime]]:
    """The last `count` calendar months in CST up to and including now's, oldest first:
    (label "YYYY-MM", first instant, first instant of the next month)."""
    current = month_start(now)
    months = []
    for back in range(count - 1, -1, -1):
        start = add_months(current, -back)
        months.append((month_label(start), start, add_months(start, 1)))
    return months
