"""DP mode's plan: bounded aggregates only, clamped sums and counts for the mechanisms."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shugu.errors import ShuguError
from shugu.sandbox.engine import DuckDBEngine, Limits, Source
from shugu.sandbox.gate import Catalog, TableSpec, check
from shugu.sandbox.gate.dp_plan import plan
from shugu.sandbox.schemas import RulesIn
from shugu.sandbox.service import _answer

RULES = RulesIn.model_validate({
    "mode": "dp", "min_identities": 2, "dp": {"epsilon_per_query": 1.0},
    "columns": {"id": {"role": "identity"}, "g": {"role": "dimension"},
                "v": {"role": "aggregatable", "functions": ["SUM", "AVG", "MAX", "COUNT"],
                      "lower": 0, "upper": 10}},
    "joins": [{"with": "qqq.u", "on": ["id"]}]})
# An aggregate-mode table joined in: its sums have no DP bounds.
OTHER = RulesIn.model_validate({
    "min_identities": 2, "columns": {"id": {"role": "identity"},
                                     "w": {"role": "aggregatable", "functions": ["SUM"]}},
    "joins": [{"with": "ppp.t", "on": ["id"]}]})


def catalog() -> Catalog:
    c = Catalog()
    c.add(TableSpec("ppp.t", "t_1", ("id", "g", "v"), RULES, 1))
    c.add(TableSpec("qqq.u", "t_2", ("id", "w"), OTHER, 1))
    return c


def test_plan_clamps_and_counts(tmp_path: Path) -> None:
    table = pa.table({"id": [f"i{i}" for i in range(40)], "g": [i % 2 for i in range(40)],
                      "v": [float(i - 5) for i in range(40)]})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    p = plan(check("SELECT g, COUNT(*) AS n, SUM(v) AS s, AVG(v) AS a FROM ppp.t GROUP BY g "
                   "ORDER BY s DESC", catalog()))
    assert [(o.name, o.kind) for o in p.outputs] == [("g", "group"), ("n", "count"),
                                                     ("s", "sum"), ("a", "avg")]
    assert p.epsilon == 1.0 and p.epsilon_each == pytest.approx(1 / 3)
    with DuckDBEngine().session([Source(view="t_1", files=(str(path),))], Limits()) as s:
        got, _, _ = _answer(s, p.gated)
    con = duckdb.connect()
    con.register("t", table)
    expected = con.execute("SELECT g, COUNT(*), SUM(LEAST(GREATEST(v, 0), 10)), COUNT(v) "
                           "FROM t GROUP BY g ORDER BY g").fetchall()
    rows = sorted((r["g"], r["n__count"], r["s__sum"], r["a__count"]) for r in got.to_pylist())
    assert rows == [tuple(r) for r in expected]


@pytest.mark.parametrize(("sql", "code"), [
    ("SELECT g, MAX(v) FROM ppp.t GROUP BY g", "dp_aggregate_not_allowed"),
    ("SELECT g, COUNT(DISTINCT v) FROM ppp.t GROUP BY g", "aggregate_not_allowed"),
    ("SELECT g, SUM(v) + 1 FROM ppp.t GROUP BY g", "dp_aggregate_not_allowed"),
    ("SELECT t.g, SUM(u.w) FROM ppp.t t JOIN qqq.u u ON t.id = u.id GROUP BY t.g",
     "dp_bounds_missing"),
    ("SELECT g, COUNT(*) FROM ppp.t GROUP BY g HAVING COUNT(*) > 3", "dp_having_not_allowed"),
])
def test_plan_refuses_unbounded_aggregates(sql: str, code: str) -> None:
    with pytest.raises(ShuguError) as exc:
        plan(check(sql, catalog()))
    assert exc.value.code == code
