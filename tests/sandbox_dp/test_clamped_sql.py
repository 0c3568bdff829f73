"""The engine side of a release: DuckDB sums values clamped to the declared bounds, so an
outlier moves a noisy answer no more than the bounds allow."""

from __future__ import annotations

import duckdb
import pytest
from sqlglot import exp

from shugu.errors import InvalidInput
from shugu.sandbox.dp import sql
from shugu.sandbox.dp.mechanisms import noisy_avg_releases, noisy_sums

KWH = [5, 250, -40, 30_000_000, None, 120, 7]
BILL = [10.5, 4999.0, 1e12, -3.25, None, 80.0, 7.75]


@pytest.fixture
def conn() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute('CREATE TABLE t (g VARCHAR, kwh BIGINT, "bill amount" DOUBLE)')
    rows = zip(KWH, BILL, strict=True)
    c.executemany("INSERT INTO t VALUES (?, ?, ?)",
                  [("a" if i % 2 else "b", k, b) for i, (k, b) in enumerate(rows)])
    return c


def clamped(values: list[float | None], lower: float, upper: float) -> list[float]:
    return [min(upper, max(lower, v)) for v in values if v is not None]


def test_the_engine_sums_clamped_values(conn: duckdb.DuckDBPyConnection) -> None:
    query = exp.select(sql.clamped_sum("kwh", 0, 1000), sql.value_count("kwh"),
                       sql.clamped_sum("bill amount", 0.0, 5000.0),
                       sql.value_count("bill amount")).from_("t")
    kwh_sum, kwh_n, bill_sum, bill_n = conn.execute(query.sql("duckdb")).fetchone()
    assert kwh_sum == sum(clamped(KWH, 0, 1000)) == 1382 and isinstance(kwh_sum, int)
    assert kwh_n == 6 and bill_n == 6
    assert bill_sum == pytest.approx(sum(clamped(BILL, 0.0, 5000.0)))
    assert isinstance(bill_sum, float)


def test_an_outlier_cannot_drag_a_noisy_average(conn: duckdb.DuckDBPyConnection) -> None:
    query = exp.select("g", sql.clamped_sum("bill amount", 0.0, 5000.0),
                       sql.value_count("bill amount")).from_("t").group_by("g").order_by("g")
    rows = conn.execute(query.sql("duckdb")).fetchall()
    truths = [s / n for _, s, n in rows]
    for _ in range(50):
        releases = noisy_avg_releases([r[1] for r in rows], [r[2] for r in rows],
                                      0.0, 5000.0, 1.0)
        assert all(0.0 <= r.value <= 5000.0 for r in releases)
    # With a huge ε the noise vanishes and the clamped truth shows; the raw 1e12 never does.
    releases = noisy_avg_releases([r[1] for r in rows], [r[2] for r in rows], 0.0, 5000.0,
                                  1e6)
    assert [r.value for r in releases] == pytest.approx(truths, abs=1.0)
    sums = noisy_sums([r[1] for r in rows], 0.0, 5000.0, 1e6)
    assert max(sums) < 10_000


def test_bad_bounds_are_refused_before_any_sql() -> None:
    with pytest.raises(InvalidInput) as info:
        sql.clamped_sum("x", 5, 1)
    assert info.value.code == "invalid_bounds"
