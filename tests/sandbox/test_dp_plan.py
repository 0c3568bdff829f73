"""DP mode's plan: entity-level bounding after joins, clamped sums and counts, and what it
refuses. The engine runs the plan over real Parquet files through the per-version copy."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shugu.errors import ShuguError
from shugu.sandbox.engine import DuckDBEngine, Limits, Source
from shugu.sandbox.engine.identity_cache import prepared
from shugu.sandbox.gate import Catalog, TableSpec, check
from shugu.sandbox.gate.dp_plan import IDS, DPPlan, plan
from shugu.sandbox.schemas import RulesIn

RULES = RulesIn.model_validate({
    "mode": "dp", "dp": {"epsilon_per_query": 1.0, "max_epsilon_per_query": 2.0,
                         "max_rows_per_identity": 2},
    "columns": {"id": {"role": "identity"}, "g": {"role": "dimension"},
                "v": {"role": "aggregatable", "functions": ["SUM", "AVG", "MAX", "COUNT"],
                      "lower": 0, "upper": 10}},
    "joins": [{"with": "qqq.u", "on": ["id"]}, {"with": "mine", "on": ["id"]}]})
# A restricted-aggregation table: never joined into a DP answer.
OTHER = RulesIn.model_validate({
    "mode": "aggregate", "min_identities": 2,
    "columns": {"id": {"role": "identity"},
                "w": {"role": "aggregatable", "functions": ["SUM"]}},
    "joins": [{"with": "ppp.t", "on": ["id"]}]})


def catalog() -> Catalog:
    c = Catalog()
    c.add(TableSpec("ppp.t", "t_1", ("id", "g", "v"), RULES, 1))
    c.add(TableSpec("qqq.u", "t_2", ("id", "w"), OTHER, 1))
    c.add(TableSpec("mine.c", "m_1", ("id", "seg"), None))
    return c


def run(p: DPPlan, sources: list[Source]) -> pa.Table:
    with DuckDBEngine().session(sources, Limits()) as s:
        return s.query(p.sql, max_rows=10_000).table


def provider_source(tmp_path: Path, table: pa.Table) -> Source:
    pq.write_table(table, tmp_path / "t.parquet")
    files = prepared(tmp_path / "cache", "t/v1", "id", files=(str(tmp_path / "t.parquet"),))
    return Source(view="t_1", files=files)


def test_single_table_keeps_at_most_L_rows_per_identity_and_clamps(tmp_path: Path) -> None:
    # 10 identities with 5 rows each (values -5..44); L = 2.
    table = pa.table({"id": [f"i{i // 5}" for i in range(50)], "g": [i % 2 for i in range(50)],
                      "v": [float(i - 5) for i in range(50)]})
    p = plan(check("SELECT COUNT(*) AS n, SUM(v) AS s, COUNT(DISTINCT id) AS ids FROM ppp.t",
                   catalog()))
    assert [(o.name, o.kind) for o in p.outputs] == [("n", "count"), ("s", "sum"),
                                                     ("ids", "ids")]
    assert p.contributions == 2 and not p.grouped and p.shares == 3
    got = run(p, [provider_source(tmp_path, table)]).to_pylist()[0]
    assert got["__v0"] == 20 and got[IDS] == 10          # 2 rows of each of 10 identities
    assert 0 <= got["__v1"] <= 20 * 10                   # clamped to [0, 10]


def test_own_table_duplicates_cannot_raise_a_contribution(tmp_path: Path) -> None:
    """The consumer's own table repeats one identity 500 times: after the join it still
    contributes at most L rows (class 4 of the attacks, amplification)."""
    table = pa.table({"id": [f"i{i}" for i in range(20)], "g": [0] * 20,
                      "v": [1.0] * 19 + [10.0]})
    mine = pa.table({"id": ["i19"] * 500 + [f"i{i}" for i in range(19)],
                     "seg": ["x"] * 519})
    pq.write_table(mine, tmp_path / "mine.parquet")
    p = plan(check("SELECT c.seg, COUNT(*) AS n, SUM(t.v) AS s FROM ppp.t t "
                   "JOIN mine.c c ON t.id = c.id GROUP BY c.seg", catalog()))
    got = run(p, [provider_source(tmp_path, table),
                  Source(view="m_1", files=(str(tmp_path / "mine.parquet"),))]).to_pylist()
    assert got[0]["__v1"] == 21                           # 19 + min(500, L = 2)
    assert got[0]["__v2"] == 19 + 2 * 10


def test_rows_are_bounded_among_the_rows_the_filter_keeps(tmp_path: Path) -> None:
    """Each of 30 identities has five months; L = 2 but only month 1 is asked for: every
    identity's month-1 row counts (choosing before the filter would lose most of them)."""
    table = pa.table({"id": [f"i{i // 5}" for i in range(150)],
                      "g": [i % 5 + 1 for i in range(150)], "v": [1.0] * 150})
    p = plan(check("SELECT COUNT(*) AS n FROM ppp.t WHERE g = 1", catalog()))
    got = run(p, [provider_source(tmp_path, table)]).to_pylist()[0]
    assert got["__v0"] == 30


def test_failing_expressions_yield_null_not_an_error(tmp_path: Path) -> None:
    table = pa.table({"id": [f"i{i}" for i in range(20)], "g": list(range(20)),
                      "v": [float(i) for i in range(20)]})
    p = plan(check("SELECT g // (g - 7) AS q, COUNT(*) AS n FROM ppp.t "
                   "WHERE 100 // (g - 3) > 0 GROUP BY g // (g - 7)", catalog()))
    got = run(p, [provider_source(tmp_path, table)])
    assert got.num_rows > 0  # the rows where g = 3 or g = 7 fail: NULL, not an error


def test_plan_matches_plain_duckdb_when_nothing_is_bounded(tmp_path: Path) -> None:
    table = pa.table({"id": [f"i{i}" for i in range(40)], "g": [i % 2 for i in range(40)],
                      "v": [float(i - 5) for i in range(40)]})
    p = plan(check("SELECT g, COUNT(*) AS n, SUM(v) AS s, AVG(v) AS a FROM ppp.t GROUP BY g "
                   "ORDER BY s DESC", catalog()))
    assert [(o.name, o.kind) for o in p.outputs] == [("g", "group"), ("n", "count"),
                                                     ("s", "sum"), ("a", "avg")]
    assert p.epsilon == 1.0 and p.shares == 4 and p.epsilon_each == pytest.approx(1 / 4)
    got = run(p, [provider_source(tmp_path, table)])
    con = duckdb.connect()
    con.register("t", table)
    expected = con.execute("SELECT g, COUNT(*), SUM(LEAST(GREATEST(v, 0), 10)), COUNT(v) "
                           "FROM t GROUP BY g ORDER BY g").fetchall()
    rows = sorted((r["__g0"], r["__v1"], r["__v2"], r["__n3"]) for r in got.to_pylist())
    assert rows == [tuple(r) for r in expected]


def test_consumer_chosen_epsilon_is_capped() -> None:
    gated = check("SELECT COUNT(*) FROM ppp.t", catalog())
    assert plan(gated, 2.0).epsilon == 2.0
    with pytest.raises(ShuguError) as exc:
        plan(check("SELECT COUNT(*) FROM ppp.t", catalog()), 2.5)
    assert exc.value.code == "epsilon_too_large"


@pytest.mark.parametrize(("sql", "code"), [
    ("SELECT g, MAX(v) FROM ppp.t GROUP BY g", "dp_aggregate_not_allowed"),
    ("SELECT g, COUNT(DISTINCT g) FROM ppp.t GROUP BY g", "dp_aggregate_not_allowed"),
    ("SELECT g, SUM(v) + 1 FROM ppp.t GROUP BY g", "dp_aggregate_not_allowed"),
    ("SELECT g, SUM(v * 2) FROM ppp.t GROUP BY g", "dp_aggregate_not_allowed"),
    ("SELECT t.g, SUM(u.w) FROM ppp.t t JOIN qqq.u u ON t.id = u.id GROUP BY t.g",
     "modes_mixed"),
    ("SELECT g, COUNT(*) FROM ppp.t GROUP BY g HAVING COUNT(*) > 3", "dp_having_not_allowed"),
    ("SELECT g + 1, COUNT(*) FROM ppp.t GROUP BY g", "dp_group_output"),
])
def test_plan_refuses_unbounded_aggregates(sql: str, code: str) -> None:
    with pytest.raises(ShuguError) as exc:
        plan(check(sql, catalog()))
    assert exc.value.code == code
