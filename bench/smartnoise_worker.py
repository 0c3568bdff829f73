"""The SmartNoise SQL side of bench/sandbox_dp_smartnoise.py; runs in build/smartnoise-venv.

    build/smartnoise-venv/bin/python bench/smartnoise_worker.py DATA.parquet \
        --query SQL --columns-json '{...}' --max-ids 12 --epsilon 1.0 --repeat 9

smartnoise-sql needs opendp < 0.15, older than shugu's, so it lives in its own virtual
environment and this script imports nothing from shugu. The data is loaded into an
in-memory DuckDB table before timing (SmartNoise gets the data in memory; the sandbox reads
Parquet files). SmartNoise reads it through its Postgres reader (DuckDB speaks that SQL
dialect) via a DB-API adapter: the reader iterates over its cursor, which a DuckDB cursor
does not allow, and DuckDB refuses the volatile ORDER BY RANDOM() of its per-identity
sampling window, which the adapter moves into the subquery below the window.

The privacy unit is the same as the sandbox's: `uscc` is the private_id, each identity
keeps at most --max-ids rows chosen at random (sample_max_ids), and group keys are released
only past a noisy threshold (censor_dims, δ = --delta). SmartNoise's ε is per mechanism, so
it is scaled until get_privacy_cost says --epsilon for the whole query, as on shugu's side.

Prints one JSON object: the timings of `reader.execute(query)` alone (parse, rewrite,
exact query in DuckDB, noise), the first call included, the part of each spent in DuckDB,
and the last result.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from importlib.metadata import version

import duckdb
import snsql

# SmartNoise samples max_ids rows per identity with ROW_NUMBER() OVER (PARTITION BY id
# ORDER BY RANDOM()), which PostgreSQL accepts and DuckDB 2 refuses ("ORDER BY window
# expressions cannot be volatile"). The same sampling, DuckDB-legal: draw the random number
# per row in the subquery below the window and order by it.
_SAMPLE = re.compile(r"SELECT \*, ROW_NUMBER \( \) OVER \( PARTITION BY (\w+) ORDER BY RANDOM "
                     r"\( \) \) AS row_num FROM \( SELECT ")
_SAMPLE_DUCKDB = (r"SELECT * EXCLUDE (__random), ROW_NUMBER() OVER (PARTITION BY \1 ORDER BY "
                  r"__random) AS row_num FROM ( SELECT random() AS __random, ")


class _Cursor:
    """What SmartNoise's Postgres reader uses of a DB-API cursor, over a DuckDB one."""

    engine_seconds = 0.0  # time spent in DuckDB, for the breakdown

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._cur = conn.cursor()
        self.description: object = None
        self._rows: list[tuple[object, ...]] = []

    def execute(self, sql: str) -> None:
        began = time.perf_counter()
        self._cur.execute(_SAMPLE.sub(_SAMPLE_DUCKDB, sql))
        self.description = self._cur.description
        self._rows = self._cur.fetchall()
        _Cursor.engine_seconds += time.perf_counter() - began

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._rows)


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
    parser.add_argument("--query", required=True)
    parser.add_argument("--columns-json", required=True)
    parser.add_argument("--max-ids", type=int, required=True)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-6)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    conn = duckdb.connect(config={"threads": args.threads})
    conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    conn.execute(f"CREATE TABLE bench.usage AS SELECT * FROM read_parquet('{args.data}')")
    rows = conn.execute("SELECT count(*) FROM bench.usage").fetchone()[0]
    table = {"row_privacy": False, "max_ids": args.max_ids, "sample_max_ids": True,
             "censor_dims": True, "rows": rows, **json.loads(args.columns_json)}
    metadata = {"bench": {"bench": {"usage": table}}}
    per_mechanism = args.epsilon
    for _ in range(3):
        privacy = snsql.Privacy(epsilon=per_mechanism, delta=args.delta)
        reader = snsql.from_connection(_Connection(conn), privacy=privacy, metadata=metadata,
                                       engine="postgres")
        cost, _delta = reader.get_privacy_cost(args.query)
        per_mechanism *= args.epsilon / cost
    timings, engine = [], []
    result = None
    for _ in range(args.repeat + 1):
        _Cursor.engine_seconds = 0.0
        began = time.perf_counter()
        result = reader.execute(args.query)
        timings.append(time.perf_counter() - began)
        engine.append(_Cursor.engine_seconds)
    cost, delta = reader.get_privacy_cost(args.query)
    print(json.dumps({"timings": timings, "engine": engine,
                      "epsilon_per_mechanism": privacy.epsilon, "epsilon_total": cost,
                      "delta_total": delta,
                      "snsql": version("smartnoise-sql"),
                      "result": [list(map(str, r)) for r in result]}))


if __name__ == "__main__":
    main()
