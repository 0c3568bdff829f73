"""A DP aggregate over 1,000,000 rows: shugu's path against SmartNoise SQL, in one run.

    .venv/bin/python bench/sandbox_dp.py [--rows 1000000] [--repeat 5] [--epsilon 1.0]

The query, on both sides, over the same Parquet file loaded into an in-memory DuckDB table:

    SELECT province, COUNT(*), SUM(kwh), AVG(bill) FROM power GROUP BY province

with declared bounds kwh ∈ [0, 20000] (an integer column; some rows lie above and are
clamped) and bill ∈ [0, 5000] (a float column), ε = 1 for the whole query.

- shugu: DuckDB computes exact aggregates over clamped values, then
  shugu.sandbox.dp.mechanisms adds OpenDP noise per group (ε/3 for each aggregate; AVG
  splits its third between a sum and a count) and accuracy gives the 95% margins.
- SmartNoise SQL 1.0.10 (its own opendp 0.14 in bench/.smartnoise-venv, created here on
  first use) reads the same DuckDB table through its Postgres reader with
  sample_max_ids: false and censor_dims: false; it runs in a subprocess that times only
  `reader.execute(query)`.

Each side runs once to warm up, then `--repeat` times; medians are compared. The data is
generated once and cached in bench/out/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from shugu.sandbox.dp import accuracy, sql
from shugu.sandbox.dp.mechanisms import noisy_avg_releases, noisy_counts, noisy_sums

HERE = Path(__file__).parent
OUT = HERE / "out"
VENV = HERE / ".smartnoise-venv"
SMARTNOISE = "smartnoise-sql==1.0.10"
# The dimension's values are declared, as an analysis rule would: releasing only the groups
# that happen to occur would itself leak which ones are empty.
PROVINCES = ["北京", "上海", "广东", "浙江", "江苏", "四川", "湖北", "山东"]
KWH = (0, 20_000)
BILL = (0.0, 5_000.0)
QUERY = "SELECT province, COUNT(*) AS n, SUM(kwh) AS kwh_total, AVG(bill) AS bill_avg " \
        "FROM bench.power GROUP BY province"


def dataset(rows: int) -> Path:
    path = OUT / f"dp_power_{rows}.parquet"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        names = ", ".join(f"'{p}'" for p in PROVINCES)
        # Deterministic pseudo-random values from hash(i); kwh runs past the upper bound.
        duckdb.execute(f"""COPY (SELECT ([{names}])[1 + (hash(i * 3) % {len(PROVINCES)})::INT]
                AS province, (hash(i) % 25000)::BIGINT AS kwh,
                (hash(i * 7) % 600000) / 100.0 AS bill FROM range({rows}) t(i))
            TO '{path}' (FORMAT parquet)""")
    return path


def clamp(column: str, lower: float, upper: float) -> str:
    """SUM over the column clamped to its declared bounds, as the gate would build it."""
    return sql.clamped_sum(column, lower, upper).sql("duckdb")


def shugu_release(conn: duckdb.DuckDBPyConnection, epsilon: float,
                  noise_times: list[float]) -> list[dict[str, object]]:
    """The exact clamped aggregates in DuckDB, then OpenDP noise per declared group."""
    exact = {r[0]: r[1:] for r in conn.execute(f"""
        SELECT province, COUNT(*), {clamp("kwh", *KWH)}, COUNT(bill), {clamp("bill", *BILL)}
        FROM bench.power GROUP BY province""").fetchall()}
    began = time.perf_counter()
    part = epsilon / 3
    n, kwh_sum, bill_n, bill_sum = zip(*(exact.get(p, (0, 0, 0, 0.0)) for p in PROVINCES),
                                       strict=True)
    # One OpenDP call per aggregate for all groups (disjoint groups: parallel composition).
    counts = noisy_counts(n, part)
    kwh = noisy_sums(kwh_sum, *KWH, part)
    avgs = noisy_avg_releases(bill_sum, bill_n, *BILL, part)
    n_margin = accuracy.count_margin(part)
    kwh_margin = accuracy.sum_margin(*KWH, part, integer=True)
    out = [{"province": p, "n": c, "n_margin": n_margin, "kwh_total": k,
            "kwh_margin": kwh_margin, "bill_avg": a.value, "bill_avg_95": accuracy.avg_interval(a)}
           for p, c, k, a in zip(PROVINCES, counts, kwh, avgs, strict=True)]
    noise_times.append(time.perf_counter() - began)
    return out


def smartnoise_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV} with {SMARTNOISE} (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", SMARTNOISE, "duckdb"],
                       check=True)
    return python


def run_smartnoise(data: Path, epsilon: float, repeat: int) -> dict[str, object]:
    columns = {"province": {"type": "string"},
               "kwh": {"type": "int", "lower": KWH[0], "upper": KWH[1]},
               "bill": {"type": "float", "lower": BILL[0], "upper": BILL[1]}}
    proc = subprocess.run(
        [str(smartnoise_venv()), str(HERE / "sandbox_dp_smartnoise.py"), str(data),
         "--epsilon", str(epsilon), "--repeat", str(repeat + 1), "--query", QUERY,
         "--columns-json", json.dumps(columns)],
        check=True, capture_output=True, text=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--epsilon", type=float, default=1.0)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, duckdb {duckdb.__version__}")
    data = dataset(args.rows)
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA bench")
    conn.execute(f"CREATE TABLE bench.power AS SELECT * FROM read_parquet('{data}')")
    truth = {r[0]: r[1:] for r in conn.execute(
        f"SELECT province, COUNT(*), {clamp('bill', *BILL).replace('SUM', 'AVG')} "
        "FROM bench.power GROUP BY 1").fetchall()}
    timings: list[float] = []
    noise: list[float] = []
    for _ in range(args.repeat + 1):
        began = time.perf_counter()
        released = shugu_release(conn, args.epsilon, noise)
        timings.append(time.perf_counter() - began)
    plain = []
    for _ in range(args.repeat + 1):
        began = time.perf_counter()
        conn.execute("SELECT province, COUNT(*), SUM(kwh), AVG(bill) FROM bench.power "
                     "GROUP BY province").fetchall()
        plain.append(time.perf_counter() - began)
    sn = run_smartnoise(data, args.epsilon, args.repeat)
    sn_timings: list[float] = sn["timings"]  # type: ignore[assignment]
    shugu_ms = statistics.median(timings[1:]) * 1000
    sn_ms = statistics.median(sn_timings[1:]) * 1000
    print(f"{args.rows:,} rows, {len(PROVINCES)} groups, COUNT + SUM(int) + AVG(float), "
          f"ε = {args.epsilon}")
    print(f"{'province':<6} {'true n':>8} {'shugu n ±95%':>16} {'smartnoise n':>13} "
          f"{'true avg(bill)':>15} {'shugu avg(bill) [95% interval]':>32}")
    sn_rows = {r[0]: r for r in sn["result"][1:]}  # type: ignore[index]
    for r in released:
        low, high = r["bill_avg_95"]  # type: ignore[misc]
        n, avg = truth.get(r["province"], (0, None))
        print(f"{r['province']:<6} {n:>8} {r['n']:>9} ±{r['n_margin']:<5.0f} "
              f"{sn_rows.get(r['province'], ['', '-'])[1]:>13} {avg:>15.2f} "
              f"{r['bill_avg']:>10.2f} [{low:.2f}, {high:.2f}]")
    print(f"shugu (DuckDB exact + OpenDP noise): median {shugu_ms:8.1f} ms "
          f"(first {timings[0] * 1000:.1f} ms; noise and margins "
          f"{statistics.median(noise[1:]) * 1000:.1f} ms of it)")
    print(f"SmartNoise SQL (Postgres reader):    median {sn_ms:8.1f} ms "
          f"(first {sn_timings[0] * 1000:.1f} ms; ε {sn['epsilon_per_mechanism']:.3f} per "
          f"mechanism, {sn['epsilon_total']:.3f} in total)")
    floor_ms = statistics.median(plain[1:]) * 1000
    print(f"plain DuckDB, exact, no DP (floor):  median {floor_ms:8.1f} ms")
    print(f"ratio SmartNoise / shugu: {sn_ms / shugu_ms:.1f}x")


if __name__ == "__main__":
    main()
