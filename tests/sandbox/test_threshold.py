"""The threshold's two paths (cheap bounds, exact count) agree with a plain distinct count,
and null identities never count towards k."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shugu.sandbox.engine import DuckDBEngine, Limits, Source
from shugu.sandbox.engine.identity_cache import MASK, prepared
from shugu.sandbox.gate import Catalog, TableSpec, check
from shugu.sandbox.schemas import RulesIn
from shugu.sandbox.service import _answer

SQL = "SELECT g, COUNT(*) AS n, SUM(v) AS s FROM p.t GROUP BY g ORDER BY g"


def data(seed: int) -> pa.Table:
    rnd = random.Random(seed)
    ids, groups, values = [], [], []
    for g in range(60):
        distinct = rnd.choice([1, 2, 4, 5, 6, 9, 10, 11, 30, 200])
        for _ in range(rnd.randint(distinct, distinct * 4)):
            ids.append(f"id{g}-{rnd.randrange(distinct)}")
            groups.append(g)
            values.append(rnd.random())
        for _ in range(rnd.choice([0, 0, 12])):  # rows without an identity
            ids.append(None)
            groups.append(g)
            values.append(1.0)
    return pa.table({"id": ids, "g": groups, "v": values})


@pytest.mark.parametrize(("seed", "k", "masked"), [(1, 5, True), (2, 10, True),
                                                   (3, 10, False), (4, 40, True),
                                                   (5, 2, True), (6, 100, False),
                                                   (7, 100, True), (8, 3000, True)])
def test_threshold_matches_exact_distinct_counts(tmp_path: Path, seed: int, k: int,
                                                 masked: bool) -> None:
    table = data(seed)
    path = tmp_path / "part.parquet"
    pq.write_table(table, path)
    rules = RulesIn.model_validate({"mode": "templates", "min_identities": k, "columns": {
        "id": {"role": "identity"}, "g": {"role": "dimension"},
        "v": {"role": "aggregatable", "functions": ["SUM"]}}})
    catalog = Catalog()
    catalog.add(TableSpec("p.t", "t_1", ("id", "g", "v"), rules, 1,
                          mask=MASK if masked else None))
    files = prepared(tmp_path / "cache", "t", "id", files=(str(path),)) if masked \
        else (str(path),)
    with DuckDBEngine().session([Source(view="t_1", files=files)], Limits()) as session:
        got, _ = _answer(session, check(SQL, catalog), None)
    con = duckdb.connect()
    con.register("t", table)
    expected = con.execute(f"SELECT g, COUNT(*), SUM(v) FROM t GROUP BY g "
                           f"HAVING COUNT(DISTINCT id) >= {k} ORDER BY g").fetchall()
    assert [tuple(r.values())[:2] for r in got.to_pylist()] == [r[:2] for r in expected]
