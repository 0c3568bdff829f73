"""Attacks on the sandbox. The gate (pure, over the parsed tree) refuses each with a stable
code naming the clause, column and rule; the engine is hardened on its own, so that even SQL
that slipped past the gate could not read files, write, or change its configuration."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shugu.errors import ShuguError
from shugu.sandbox.engine import DuckDBEngine, Limits, Source
from shugu.sandbox.gate import Catalog, Refused, TableSpec, check
from shugu.sandbox.schemas import RulesIn
from tests.sandbox.conftest import RULES

T = '"grid-usage".usage'
OTHER_RULES = {"min_identities": 5, "columns": {"uscc": {"role": "identity"},
                                                "score": {"role": "dimension"}}}


def catalog() -> Catalog:
    c = Catalog()
    c.add(TableSpec("grid-usage.usage", "t_1",
                    ("uscc", "region", "industry", "month", "kwh", "address"),
                    RulesIn.model_validate(RULES), 1))
    c.add(TableSpec("credit.scores", "t_2", ("uscc", "score"),
                    RulesIn.model_validate(OTHER_RULES), 1))
    c.add(TableSpec("mine.customers", "m_1", ("uscc", "segment"), None))
    return c


ATTACKS: list[tuple[str, str, str]] = [
    # (what, SQL, expected code)
    # -- files, side effects, settings, extensions, catalogs ---------------------------------
    ("read_csv", "SELECT * FROM read_csv('/etc/passwd')", "table_function_not_allowed"),
    ("read_text", "SELECT COUNT(*) FROM read_text('/etc/passwd')",
     "table_function_not_allowed"),
    ("file as table", "SELECT COUNT(*) FROM '/etc/passwd'", "table_not_allowed"),
    ("parquet glob", "SELECT COUNT(*) FROM read_parquet('/srv/**/*.parquet')",
     "table_function_not_allowed"),
    ("scalar file read", f"SELECT region, COUNT(*) FROM {T} WHERE region = "
     "getenv('HOME') GROUP BY region", "function_not_allowed"),
    ("copy out", f"COPY (SELECT region FROM {T}) TO '/tmp/out.csv'", "statement_not_allowed"),
    ("copy table", f"COPY {T} TO '/tmp/out.parquet'", "statement_not_allowed"),
    ("export", "EXPORT DATABASE '/tmp/db'", "sql_syntax"),  # sqlglot cannot parse it
    ("attach", "ATTACH '/tmp/other.duckdb' AS o", "statement_not_allowed"),
    ("detach", "DETACH o", "statement_not_allowed"),
    ("pragma", "PRAGMA database_list", "statement_not_allowed"),
    ("set", "SET enable_external_access = true", "statement_not_allowed"),
    ("reset", "RESET lock_configuration", "statement_not_allowed"),
    ("install", "INSTALL httpfs", "statement_not_allowed"),
    ("load", "LOAD httpfs", "statement_not_allowed"),
    ("call", "CALL pragma_version()", "statement_not_allowed"),
    ("create", f"CREATE TABLE x AS SELECT region FROM {T}", "statement_not_allowed"),
    ("drop", "DROP VIEW t_1", "statement_not_allowed"),
    ("insert", f"INSERT INTO {T} VALUES (1)", "statement_not_allowed"),
    ("two statements", f"SELECT COUNT(*) FROM {T}; DROP VIEW t_1", "multiple_statements"),
    ("information_schema", "SELECT COUNT(*) FROM information_schema.tables",
     "table_not_allowed"),
    ("pg_catalog", "SELECT COUNT(*) FROM pg_catalog.pg_class", "table_not_allowed"),
    ("settings function", "SELECT * FROM duckdb_settings()", "table_function_not_allowed"),
    ("current_setting", f"SELECT current_setting('threads'), COUNT(*) FROM {T}",
     "function_not_allowed"),
    ("engine view by name", "SELECT COUNT(*) FROM t_1", "table_not_allowed"),
    ("unentitled table", "SELECT COUNT(*) FROM other.secret", "table_not_allowed"),
    ("sample", f"SELECT COUNT(*) FROM {T} USING SAMPLE 10%", "clause_not_allowed"),
    # -- resource exhaustion ------------------------------------------------------------------
    ("recursive cte", "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
     "SELECT COUNT(*) FROM r", "clause_not_allowed"),
    ("cte", f"WITH x AS (SELECT uscc FROM {T}) SELECT COUNT(*) FROM x", "clause_not_allowed"),
    ("range blow-up", "SELECT COUNT(*) FROM range(1000000000000)",
     "table_function_not_allowed"),
    ("cross join", f"SELECT COUNT(*) FROM {T} a CROSS JOIN {T} b", "join_not_allowed"),
    ("comma join", f"SELECT COUNT(*) FROM {T} a, {T} b", "join_condition_required"),
    # -- smuggling identities out ------------------------------------------------------------
    ("union", f"SELECT region, COUNT(*) FROM {T} GROUP BY region UNION ALL "
     f"SELECT uscc, 1 FROM {T}", "set_operation_not_allowed"),
    ("subquery in where", f"SELECT region, COUNT(*) FROM {T} WHERE region IN "
     f"(SELECT region FROM {T} WHERE uscc = '91330100MA0000001') GROUP BY region",
     "subquery_not_allowed"),
    ("scalar subquery", f"SELECT (SELECT MAX(uscc) FROM {T}), COUNT(*) FROM {T}",
     "subquery_not_allowed"),
    ("derived table", f"SELECT x, COUNT(*) FROM (SELECT uscc AS x FROM {T}) s GROUP BY x",
     "table_function_not_allowed"),
    ("exists", f"SELECT COUNT(*) FROM {T} WHERE EXISTS (SELECT 1)", "subquery_not_allowed"),
    ("identity output", f"SELECT uscc, SUM(kwh) FROM {T} GROUP BY uscc",
     "identity_not_allowed"),
    ("identity group", f"SELECT SUM(kwh) FROM {T} GROUP BY uscc", "identity_not_allowed"),
    ("identity min", f"SELECT MIN(uscc) FROM {T}", "aggregate_not_allowed"),
    ("string_agg", f"SELECT region, string_agg(uscc, ',') FROM {T} GROUP BY region",
     "function_not_allowed"),
    ("list", f"SELECT region, list(uscc) FROM {T} GROUP BY region", "function_not_allowed"),
    ("array_agg", f"SELECT region, array_agg(kwh) FROM {T} GROUP BY region",
     "function_not_allowed"),
    ("first", f"SELECT region, first(uscc) FROM {T} GROUP BY region", "function_not_allowed"),
    ("arg_max", f"SELECT region, arg_max(uscc, kwh) FROM {T} GROUP BY region",
     "function_not_allowed"),
    ("identity arithmetic", f"SELECT region, SUM(length(uscc)) FROM {T} GROUP BY region",
     "aggregate_not_allowed"),
    ("never output", f"SELECT address, COUNT(*) FROM {T} GROUP BY address",
     "never_output_column"),
    ("raw measure", f"SELECT kwh, COUNT(*) FROM {T} GROUP BY kwh", "aggregate_required"),
    ("row level", f"SELECT region FROM {T}", "aggregation_required"),
    ("star", f"SELECT * FROM {T}", "star_not_allowed"),
    ("unlisted column", "SELECT score, COUNT(*) FROM credit.scores c JOIN "
     f"{T} u ON c.uscc = u.uscc GROUP BY score", "join_not_allowed"),
    ("join on a dimension", f"SELECT COUNT(*) FROM mine.customers c JOIN {T} u "
     "ON c.segment = u.region", "join_not_allowed"),
    ("join by inequality", f"SELECT COUNT(*) FROM mine.customers c JOIN {T} u "
     "ON c.uscc > u.uscc", "join_condition_not_allowed"),
    ("join using", f"SELECT COUNT(*) FROM mine.customers c JOIN {T} u USING (uscc)",
     "join_not_allowed"),
    # -- window tricks ------------------------------------------------------------------------
    ("window partition", f"SELECT region, SUM(kwh) OVER (PARTITION BY uscc) FROM {T}",
     "window_not_allowed"),
    ("row_number", f"SELECT region, row_number() OVER () FROM {T} GROUP BY region",
     "window_not_allowed"),
    ("qualify", f"SELECT region, COUNT(*) FROM {T} GROUP BY region QUALIFY "
     "row_number() OVER () = 1", "clause_not_allowed"),
    ("lag", f"SELECT region, lag(SUM(kwh)) OVER (ORDER BY region) FROM {T} GROUP BY region",
     "window_not_allowed"),
    # -- literal probes of identities ---------------------------------------------------------
    ("equals", f"SELECT COUNT(*) FROM {T} WHERE uscc = '91330100MA0000001'", "literal_probe"),
    ("like", f"SELECT SUM(kwh) FROM {T} WHERE uscc LIKE '9133%'", "literal_probe"),
    ("in list", f"SELECT SUM(kwh) FROM {T} WHERE uscc IN ('a', 'b')", "literal_probe"),
    ("range", f"SELECT SUM(kwh) FROM {T} WHERE uscc > '91330100MA0000100'", "literal_probe"),
    ("between", f"SELECT SUM(kwh) FROM {T} WHERE uscc BETWEEN 'a' AND 'b'", "literal_probe"),
    ("function of identity", f"SELECT SUM(kwh) FROM {T} WHERE substr(uscc, 1, 4) = '9133'",
     "literal_probe"),
    ("reversed", f"SELECT SUM(kwh) FROM {T} WHERE '91330100MA0000001' = uscc",
     "literal_probe"),
    ("in join condition", f"SELECT COUNT(*) FROM mine.customers c JOIN {T} u ON "
     "c.uscc = u.uscc AND u.uscc = '91330100MA0000001'", "literal_probe"),
    ("null probe", f"SELECT COUNT(*) FROM {T} WHERE uscc IS NULL", "identity_not_allowed"),
    # -- conditional aggregates, casts, parameters, oddities ---------------------------------
    ("case in aggregate", f"SELECT SUM(CASE WHEN address = '路1号' THEN kwh END) FROM {T}",
     "conditional_aggregate_not_allowed"),
    ("filter clause", f"SELECT COUNT(*) FILTER (WHERE address = '路1号') FROM {T}",
     "conditional_aggregate_not_allowed"),
    ("cast oracle", f"SELECT region, SUM(CAST(address AS INTEGER)) FROM {T} GROUP BY region",
     "cast_not_allowed"),
    ("parameter", f"SELECT COUNT(*) FROM {T} WHERE region = $1", "parameter_not_allowed"),
    ("rollup", f"SELECT region, SUM(kwh) FROM {T} GROUP BY ROLLUP (region)",
     "clause_not_allowed"),
    ("group by all", f"SELECT region, SUM(kwh) FROM {T} GROUP BY ALL", "clause_not_allowed"),
    ("reserved alias", f"SELECT COUNT(*) AS __shugu_suppressed FROM {T}", "reserved_name"),
    ("limit expression", f"SELECT COUNT(*) FROM {T} LIMIT (SELECT 1)", "invalid_limit"),
]


@pytest.mark.parametrize(("what", "sql", "code"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_gate_refuses(what: str, sql: str, code: str) -> None:
    with pytest.raises(ShuguError) as exc:
        check(sql, catalog())
    assert exc.value.code == code, (what, exc.value.code, exc.value.message)
    assert exc.value.status in (400, 422)
    assert "rule" in exc.value.details and "clause" in exc.value.details


def test_refusal_names_clause_column_and_rule() -> None:
    with pytest.raises(Refused) as exc:
        check(f"SELECT region, SUM(kwh) FROM {T} WHERE uscc = 'x' GROUP BY region", catalog())
    assert exc.value.details == {"clause": "WHERE", "column": "grid-usage.usage.uscc",
                                 "rule": "no_identity_literals"}


def test_syntax_error_is_400() -> None:
    with pytest.raises(ShuguError) as exc:
        check("SELEC region FROM", catalog())
    assert exc.value.status == 400 and exc.value.code == "sql_syntax"


def test_every_query_gets_a_threshold() -> None:
    gated = check(f"SELECT COUNT(*) FROM {T} WHERE region = '舟山'", catalog())
    assert [t.k for t in gated.thresholds] == [5]
    assert "QUALIFY" in gated.phase_a() and "QUALIFY" in gated.phase_b()


# -- the engine on its own ------------------------------------------------------------------

@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "part-0.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3]}), path)
    (tmp_path / "secret.txt").write_text("top secret")
    return path


ENGINE_ATTACKS = [
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_csv('{dir}/secret.txt')",
    "COPY (SELECT 1) TO '{dir}/out.csv'",
    "COPY (SELECT 42 AS a) TO '{dir}/part-0.parquet' (FORMAT parquet)",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "INSTALL httpfs",
    "LOAD httpfs",
    "ATTACH '{dir}/other.duckdb' AS o",
    "SELECT * FROM glob('{dir}/*')",
]


@pytest.mark.parametrize("sql", ENGINE_ATTACKS)
def test_engine_is_hardened_even_without_the_gate(data_file: Path, sql: str) -> None:
    source = Source(view="t_1", files=(str(data_file),))
    with DuckDBEngine().session([source], Limits(timeout_seconds=10)) as session:
        with pytest.raises(ShuguError):
            session.query(sql.format(dir=data_file.parent))
        # The granted view still answers, and the data file is untouched.
        assert session.query("SELECT SUM(a) AS s FROM t_1").table.column("s")[0].as_py() == 6
    assert not (data_file.parent / "out.csv").exists()
    assert pq.read_table(data_file).column("a").to_pylist() == [1, 2, 3]


def test_engine_interrupts_runaway_queries(data_file: Path) -> None:
    source = Source(view="t_1", files=(str(data_file),))
    blow_up = ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) "
               "SELECT COUNT(*) FROM r")
    with DuckDBEngine().session([source], Limits(timeout_seconds=1)) as session, \
            pytest.raises(ShuguError) as exc:
        session.query(blow_up)
    assert exc.value.code in ("query_timeout", "query_memory_exceeded")


def test_engine_memory_limit(data_file: Path) -> None:
    source = Source(view="t_1", files=(str(data_file),))
    hog = "SELECT COUNT(DISTINCT i::VARCHAR || 'x') FROM range(200000000) t(i)"
    limits = Limits(memory_limit="64MB", timeout_seconds=20)
    with DuckDBEngine().session([source], limits) as session, \
            pytest.raises(ShuguError) as exc:
        session.query(hog)
    assert exc.value.code in ("query_memory_exceeded", "query_timeout")


def test_runtime_errors_do_not_echo_values(data_file: Path) -> None:
    source = Source(view="t_1", files=(str(data_file),))
    with DuckDBEngine().session([source], Limits()) as session, \
            pytest.raises(ShuguError) as exc:
        session.query("SELECT CAST('secret-value' AS INTEGER) FROM t_1")
    assert "secret-value" not in exc.value.message
