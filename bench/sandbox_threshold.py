"""Threshold-mode aggregate over 10,000,000 rows: the sandbox vs raw DuckDB, same query.

    .venv/bin/python bench/sandbox_threshold.py [--rows 10000000] [--runs 7] [--k 10]

Generates (once, cached under bench/out/) a Delta table of electricity use: uscc (the
identity, 18-character strings, 1,000,000 companies), region, industry, month, kwh. Then
times, interleaved and best of `--runs`:
  raw     DuckDB over the same parquet files, the consumer's query as written;
  sandbox the gate (parse, check, threshold rewrite) and the hardened engine session
          (fresh connection, views, lock) answering with k-anonymity suppression.
  raw, mask copy: raw DuckDB over the sandbox's identity-mask copy of the same version
          (same file layout as the sandbox reads), to show the threshold's own cost.
All use the same thread count. Target: sandbox / raw <= 1.5.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
from deltalake import DeltaTable, write_deltalake

from shugu.sandbox.engine import DuckDBEngine, Limits, Source
from shugu.sandbox.engine.identity_cache import MASK, prepared
from shugu.sandbox.gate import Catalog, TableSpec, check
from shugu.sandbox.schemas import RulesIn
from shugu.sandbox.service import _answer

OUT = Path(__file__).parent / "out" / "sandbox_threshold"
QUERY = ("SELECT region, industry, COUNT(*) AS n, SUM(kwh) AS total, AVG(kwh) AS mean "
         "FROM {table} WHERE month >= 3 GROUP BY region, industry ORDER BY region, industry")


def ensure_table(rows: int) -> Path:
    path = OUT / f"usage_{rows}"
    if (path / "_delta_log").exists():
        return path
    print(f"generating {rows:,} rows into {path} (once) ...", file=sys.stderr)
    con = duckdb.connect()
    reader = con.sql(
        f"SELECT '91330100MA' || lpad(CAST((i * 7919) % 1000000 AS VARCHAR), 8, '0') "
        f"AS uscc, 'R' || CAST(i % 31 AS VARCHAR) AS region, "
        f"'I' || CAST((i // 7) % 17 AS VARCHAR) AS industry, "
        f"CAST(i % 12 + 1 AS INTEGER) AS month, ((i * 2654435761) % 100000) / 10.0 AS kwh "
        f"FROM range({rows}) t(i)").to_arrow_reader(1_000_000)
    write_deltalake(str(path), reader, mode="overwrite")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    path = ensure_table(args.rows)
    table = DeltaTable(str(path))
    files = tuple(table.file_uris())
    rules = RulesIn.model_validate({
        "min_identities": args.k,
        "columns": {"uscc": {"role": "identity"}, "region": {"role": "dimension"},
                    "industry": {"role": "dimension"}, "month": {"role": "dimension"},
                    "kwh": {"role": "aggregatable", "functions": ["SUM", "AVG", "COUNT"]}}})
    catalog = Catalog()
    catalog.add(TableSpec("bench.usage", "t_1", ("uscc", "region", "industry", "month", "kwh"),
                          rules, 1, mask=MASK))
    # The identity-mask copy is made once per table version (like the service does).
    start = time.perf_counter()
    masked = prepared(OUT / "cache", f"usage_{args.rows}", "uscc", files=files)
    print(f"identity-mask copy ready in {time.perf_counter() - start:.1f} s (once per "
          "table version)")
    limits = Limits(threads=args.threads, memory_limit="4GB", timeout_seconds=600,
                    max_rows=100_000)
    engine = DuckDBEngine()
    listing = ", ".join(f"'{f}'" for f in files)

    def raw() -> list[tuple[object, ...]]:
        con = duckdb.connect(config={"threads": args.threads})
        try:
            return con.sql(QUERY.format(table=f"read_parquet([{listing}])")).fetchall()
        finally:
            con.close()

    copy_listing = ", ".join(f"'{f}'" for f in masked)

    def raw_copy() -> list[tuple[object, ...]]:
        """Same query over the mask copy: separates the threshold's cost from file layout."""
        con = duckdb.connect(config={"threads": args.threads})
        try:
            return con.sql(QUERY.format(table=f"read_parquet([{copy_listing}])")).fetchall()
        finally:
            con.close()

    def sandbox() -> tuple[int, int]:
        gated = check(QUERY.format(table="bench.usage"), catalog)
        with engine.session([Source(view="t_1", files=masked)], limits) as session:
            result, suppressed, _ = _answer(session, gated)
        return result.num_rows, suppressed

    raw_times, copy_times, sandbox_times = [], [], []
    expected = raw()
    got = sandbox()
    assert got == (len(expected), 0), (got, len(expected))
    for _ in range(args.runs):
        for fn, times in ((raw, raw_times), (raw_copy, copy_times), (sandbox, sandbox_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    r, c, s = min(raw_times), min(copy_times), min(sandbox_times)
    print(f"rows {args.rows:,}  files {len(files)}  groups {len(expected)}  k {args.k}  "
          f"threads {args.threads}")
    print(f"raw DuckDB       best {r * 1000:8.1f} ms")
    print(f"raw, mask copy   best {c * 1000:8.1f} ms")
    print(f"sandbox (k={args.k:<3})  best {s * 1000:8.1f} ms")
    print(f"ratio sandbox/raw: {s / r:.2f}  (target <= 1.5)")
    print(f"ratio sandbox/raw over the same copy: {s / c:.2f}  (the threshold's own cost)")


if __name__ == "__main__":
    main()
