"""The SmartNoise SQL side of bench/sandbox_dp.py; runs in bench/.smartnoise-venv.

    bench/.smartnoise-venv/bin/python bench/sandbox_dp_smartnoise.py DATA.parquet \
        --epsilon 1.0 --repeat 5 --bounds-json '{...}'

smartnoise-sql pins an older opendp than shugu, so it lives in its own virtual environment
and this script imports nothing from shugu. The data is loaded into an in-memory DuckDB table
before timing; SmartNoise reads it through its Postgres reader (DuckDB speaks that SQL
dialect) with sample_max_ids: false, through a three-method adapter: the reader iterates
over its cursor, which a DuckDB cursor does not allow. Prints one JSON object: the timings
of the query alone (parse, rewrite, exact query in DuckDB, noise) and the last result.
"""

from __future__ import annotations

import argparse
import json
import time

import duckdb
import snsql


class _Cursor:
    """What SmartNoise's Postgres reader uses of a DB-API cursor, over a DuckDB one."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._cur = conn.cursor()
        self.description: object = None

    def execute(self, sql: str) -> None:
        self._cur.execute(sql)
        self.description = self._cur.description

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._cur.fetchall())


class _Connection:
    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._conn = conn

    def cursor(self) -> _Cursor:
        return _Cursor(self._conn)

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--query", required=True)
    parser.add_argument("--columns-json", required=True)
    args = parser.parse_args()
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    conn.execute(f"CREATE TABLE bench.power AS SELECT * FROM read_parquet('{args.data}')")
    rows = conn.execute("SELECT count(*) FROM bench.power").fetchone()[0]
    table = {"row_privacy": True, "rows": rows, "sample_max_ids": False,
             "censor_dims": False, **json.loads(args.columns_json)}
    metadata = {"bench": {"bench": {"power": table}}}
    # SmartNoise's epsilon is per mechanism (COUNT(*), SUM, and AVG's SUM and COUNT each
    # cost it); scale it so the whole query costs --epsilon, as it does on shugu's side.
    per_mechanism = args.epsilon
    for _ in range(2):
        privacy = snsql.Privacy(epsilon=per_mechanism, delta=1e-6)
        reader = snsql.from_connection(_Connection(conn), privacy=privacy, metadata=metadata,
                                       engine="postgres")
        cost, _delta = reader.get_privacy_cost(args.query)
        per_mechanism *= args.epsilon / cost
    timings = []
    result = None
    for _ in range(args.repeat):
        began = time.perf_counter()
        result = reader.execute(args.query)
        timings.append(time.perf_counter() - began)
    print(json.dumps({"timings": timings, "epsilon_per_mechanism": privacy.epsilon,
                      "epsilon_total": reader.get_privacy_cost(args.query)[0],
                      "result": [list(map(str, r)) for r in result]}))


if __name__ == "__main__":
    main()
