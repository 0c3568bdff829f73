"""Threshold mode (mode "aggregate", k distinct identities) through the sandbox vs raw DuckDB.

    PYTHONPATH=$PWD/src .venv/bin/python bench/sandbox_threshold.py [--rows 10000000]
        [--runs 9] [--k 10]

A fresh exchange (bench/sandbox_setup.py) serves the cached data set (~20 rows per
identity, 527 region × industry groups; dimensions region, industry, month; identity
`uscc`) as an `aggregate`-mode table with min_identities = k. The consumer's query, on
both sides:

    SELECT region, industry, COUNT(*) AS n, SUM(kwh) AS total, AVG(kwh) AS mean
    FROM "bench-usage".usage WHERE month >= 3
    GROUP BY region, industry ORDER BY region, industry

- sandbox: `POST /api/v1/sandbox/queries` (gate, per-version cache, threshold, recording,
  ledger, result); the first query of the table version builds the cache and is reported
  on its own;
- raw DuckDB: the query as written over the table's Parquet files, a fresh connection with
  the sandbox's 2 threads.

Then `--runs` interleaved rounds; medians are compared. Target: sandbox / raw ≤ 1.5.
The answer is checked against DuckDB's own: exact equality with the query computed only
over the cells (region × industry × month) of at least k identities, which is what the
aggregation rule promises (at 10M rows every cell has hundreds of identities, so that is
the raw answer itself).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import sandbox_setup as sb

QUERY = ("SELECT region, industry, COUNT(*) AS n, SUM(kwh) AS total, AVG(kwh) AS mean "
         f"FROM {sb.TABLE} WHERE month >= 3 GROUP BY region, industry "
         "ORDER BY region, industry")
TARGET = 1.5


def same(a: list[Any], b: list[Any]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) or isinstance(v, float):
                if not math.isclose(float(u), float(v), rel_tol=1e-9):
                    return False
            elif u != v:
                return False
    return True


def expected(files: tuple[str, ...], k: int) -> list[Any]:
    """The query over the rows of cells with at least k distinct identities."""
    cells = (f"(SELECT * FROM {sb.TABLE} QUALIFY COUNT(DISTINCT uscc) OVER "
             "(PARTITION BY region, industry, month) >= " f"{k})")
    return sb.raw_duckdb(files, QUERY.replace(sb.TABLE, cells, 1))()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    sb.header("threshold mode in the sandbox vs raw DuckDB")
    data = sb.dataset(args.rows)
    with sb.exchange(data, sb.rules("aggregate", k=args.k)) as ex:
        print(f"exchange ready: {args.rows:,} rows ingested through the API in "
              f"{ex.ingest_seconds:.1f} s, {len(ex.files)} file(s)", flush=True)
        raw = sb.raw_duckdb(ex.files, QUERY)
        sandbox = sb.Sandbox(ex.consumer, QUERY)
        raw_t, sandbox_t = sb.Timings("raw DuckDB"), sb.Timings(f"sandbox (k = {args.k})")
        sb.side_by_side([(raw_t, raw), (sandbox_t, sandbox)], args.runs)
        plain = raw()
        cells = expected(ex.files, args.k)
    answer = sandbox.last
    got = [tuple(r) for r in answer.rows]
    print(f"{args.rows:,} rows, {len(plain)} groups, k = {args.k}, threads {sb.THREADS}")
    print(f"answer: {len(got)} rows, suppressed {answer.query.suppressed}; equals DuckDB over "
          f"the cells of >= k identities: {'yes' if same(got, cells) else 'NO'}; equals "
          f"the raw answer: {'yes' if same(got, plain) else 'no'}")
    print(raw_t.line())
    print(sandbox_t.line(sandbox.server_note()))
    ratio = sandbox_t.median / raw_t.median
    print(f"ratio sandbox / raw DuckDB (steady state): {ratio:.2f}x  (target <= {TARGET:g}x: "
          f"{'met' if ratio <= TARGET else 'NOT met'}); first query (builds the per-version "
          f"cache): {sandbox_t.first / raw_t.median:.1f}x")


if __name__ == "__main__":
    main()
