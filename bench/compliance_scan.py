"""Compliance scan over 10,000,000 rows: shugu's scan against a DuckDB full scan applying the
same regular expressions to the same columns of the same files (target: at most 2x).

    .venv/bin/python bench/compliance_scan.py [--rows 10000000] [--threads N]

The table (mixed columns, some personal information) is generated once with DuckDB and
written as a Delta table under bench/out/ (git-ignored); later runs reuse it.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import duckdb
from deltalake import DeltaTable, write_deltalake

from shugu.review import detectors as det
from shugu.review.engine import connect, delta_relation, ident, sql_string
from shugu.review.scan import applicable, scan_relation

OUT = Path(__file__).resolve().parent / "out"


def _id_card(i: str) -> str:
    """A valid 18-digit resident ID for row i, built in SQL."""
    first17 = (f"('330106' || strftime(DATE '1950-01-01' + CAST(hash({i}) % 20000 AS INTEGER), "
               f"'%Y%m%d') || lpad(CAST({i} % 1000 AS VARCHAR), 3, '0'))")
    total = " + ".join(f"(ascii(substr(p, {k + 1}, 1)) - 48) * {w}"
                       for k, w in enumerate(det.ID_WEIGHTS))
    return (f"(SELECT p || substr('{det.ID_CHECK}', (({total}) % 11) + 1, 1) "
            f"FROM (SELECT {first17} AS p))")


GENERATE = """
SELECT
  i AS id,
  list_extract(['王','李','张','刘','陈','杨','黄','赵','吴','周'], CAST(i % 10 AS INTEGER) + 1)
    || list_extract(['伟','芳','娜','敏','静','丽','强','磊','军','洋','勇','艳'],
                    CAST(hash(i) % 12 AS INTEGER) + 1) AS customer_name,
  {id_card} AS id_card,
  '1' || CAST(3 + hash(i * 7) % 7 AS VARCHAR) || lpad(CAST(hash(i * 13) % 1000000000 AS VARCHAR),
    9, '0') AS mobile,
  '6222' || lpad(CAST(hash(i * 17) % 1000000000000000 AS VARCHAR), 15, '0') AS card_no,
  list_extract(['杭州市','宁波市','温州市','嘉兴市','湖州市','绍兴市','金华市','衢州市',
                '舟山市','台州市','丽水市'], CAST(i % 11 AS INTEGER) + 1) AS city,
  CASE WHEN i % 50 = 0 THEN '客户来电 1390000' || lpad(CAST(i % 10000 AS VARCHAR), 4, '0')
       WHEN i % 77 = 0 THEN '邮件 user' || CAST(i AS VARCHAR) || '@example.com'
       ELSE '月度用电量正常，无异常告警 #' || CAST(i % 997 AS VARCHAR) END AS note,
  round((hash(i * 31) % 1000000) / 100.0, 2) AS amount_yuan,
  DATE '2024-01-01' + CAST(i % 365 AS INTEGER) AS reading_date
FROM range({rows}) t(i)
"""


def table_dir(rows: int) -> Path:
    path = OUT / f"compliance_{rows}"
    if (path / "_delta_log").is_dir():
        return path
    shutil.rmtree(path, ignore_errors=True)
    print(f"generating {rows:,} rows into {path} (once) …", flush=True)
    con = duckdb.connect()
    reader = con.sql(GENERATE.format(rows=rows, id_card=_id_card("i"))) \
        .to_arrow_reader(256 * 1024)
    write_deltalake(str(path), reader)
    return path


def baseline_sql(files: list[str], cols: list[tuple[str, str]]) -> str:
    """Every pattern shugu applies, as regexp_matches over the same columns."""
    aggs = ["count(*)"]
    for name, t in cols:
        source = ident(name) if t == "VARCHAR" else f"CAST({ident(name)} AS VARCHAR)"
        aggs += [f"count(*) FILTER (WHERE regexp_matches({source}, {sql_string(d.pattern)}))"
                 for d in applicable(t)]
    listed = "[" + ", ".join(sql_string(f) for f in files) + "]"
    return f"SELECT {', '.join(aggs)} FROM read_parquet({listed})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    path = table_dir(args.rows)
    version = DeltaTable(str(path)).version()
    relation = delta_relation(path, version)
    con = connect(relation.files, args.threads)
    cols = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation.sql}").fetchall()]
    sql = baseline_sql(relation.files, cols)
    best_base = best_shugu = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        base_row = con.execute(sql).fetchone()
        best_base = min(best_base, time.perf_counter() - start)
        start = time.perf_counter()
        report = scan_relation(relation, threads=args.threads)
        best_shugu = min(best_shugu, time.perf_counter() - start)
    con.close()
    assert base_row is not None and base_row[0] == report["rows_scanned"] == args.rows
    print(f"rows: {args.rows:,}  columns: {len(cols)}  files: {len(relation.files)}")
    for name, column in report["columns"].items():
        for key, found in column["detections"].items():
            print(f"  {name:<14} {key:<12} candidates {found['candidates']:>11,}  "
                  f"matches {found['matches']:>11,}  confirmed {found['confirmed']!s:<5} "
                  f"{', '.join(found['samples'])}")
    print(f"baseline (DuckDB regexp_matches full scan): {best_base:8.2f} s")
    print(f"shugu compliance scan:                      {best_shugu:8.2f} s")
    print(f"ratio: {best_shugu / best_base:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
