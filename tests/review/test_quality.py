"""The quality report's numbers on a small table whose answers are known by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import write_deltalake

from shugu.review.engine import Relation, delta_relation
from shugu.review.quality import assess

NOW = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def known_table() -> pa.Table:
    return pa.table({
        "id": pa.array([1, 2, 3, 3], pa.int64()),  # key-like: 3 distinct of 4
        "city": ["杭州", "宁波", None, None],  # half complete
        "amount": [1.0, float("nan"), 3.0, 3.0],  # one invalid number
        "day": ["2024-01-01", "2024-01-02", "2024/01/03", "2024/01/03"],  # two formats
        "note": ["好", "  ", "ok", "ok"],  # one blank: invalid text
        "start_date": pa.array([dt.date(2024, 1, 1)] * 4),
        "end_date": pa.array([dt.date(2024, 1, 2), dt.date(2023, 1, 1), dt.date(2024, 1, 2),
                              dt.date(2024, 1, 2)]),  # one ends before it starts
    })


def report(tmp_path: Path, **kwargs: Any) -> dict[str, Any]:
    path = tmp_path / "q.parquet"
    pq.write_table(known_table(), path)
    options: dict[str, Any] = {"update_frequency": "monthly",
                               "last_commit_at": NOW - dt.timedelta(days=62), "now": NOW}
    options.update(kwargs)
    return assess(Relation(f"read_parquet('{path}')", [str(path)]), **options)


def test_dimensions_on_a_known_table(tmp_path: Path) -> None:
    r = report(tmp_path)
    dims = r["dimensions"]
    assert r["rows"] == 4
    # completeness: 6 full columns and one half-full: (6 + 0.5) / 7
    assert dims["completeness"]["columns"]["city"] == 0.5
    assert dims["completeness"]["score"] == round(100 * 6.5 / 7, 1)
    # uniqueness: rows 3 and 4 are the same (3 of 4 distinct); id has 3 distinct of 4
    assert (dims["uniqueness"]["distinct_rows"], dims["uniqueness"]["duplicate_rows"]) == (3, 1)
    assert dims["uniqueness"]["key_columns"] == {"id": 0.75}
    assert dims["uniqueness"]["score"] == 75.0
    # validity: 26 non-null values; NaN and the blank note are invalid
    assert (dims["validity"]["valid_values"], dims["validity"]["non_null_values"]) == (24, 26)
    assert dims["validity"]["columns"]["amount"] == 0.75
    assert r["columns"]["day"]["typed_as"] == "date"
    # timeliness: 62 days old for a monthly product, one period late of the two allowed
    assert dims["timeliness"]["score"] == 50.0
    # consistency: city has one format, day two (half each); start <= end on 3 of 4 rows
    assert dims["consistency"]["format_share"]["city"] == 1.0
    assert dims["consistency"]["format_share"]["day"] == 0.5
    assert dims["consistency"]["date_order"] == {"start_date <= end_date": 0.75}
    scores = [d["score"] for d in dims.values()]
    assert r["overall"] == round(sum(scores) / len(scores), 1)


def test_timeliness_needs_a_frequency_and_falls_to_zero(tmp_path: Path) -> None:
    unassessed = report(tmp_path, update_frequency="irregular")
    assert unassessed["dimensions"]["timeliness"]["score"] is None
    fresh = report(tmp_path, last_commit_at=NOW - dt.timedelta(days=3))
    assert fresh["dimensions"]["timeliness"]["score"] == 100.0
    stale = report(tmp_path, last_commit_at=NOW - dt.timedelta(days=400))
    assert stale["dimensions"]["timeliness"]["score"] == 0.0


def test_a_delta_table_at_a_committed_version(tmp_path: Path) -> None:
    table = tmp_path / "t"
    write_deltalake(str(table), pa.table({"x": [1, 2]}))
    write_deltalake(str(table), pa.table({"x": [3, None]}), mode="append")
    first = assess(delta_relation(table, 0), update_frequency=None, last_commit_at=None,
                   now=NOW)
    both = assess(delta_relation(table, 1), update_frequency=None, last_commit_at=None,
                  now=NOW)
    assert (first["rows"], both["rows"]) == (2, 4)
    assert both["dimensions"]["completeness"]["columns"]["x"] == 0.75
