"""Entity-level DP through the sandbox vs SmartNoise SQL with the same privacy unit.

    PYTHONPATH=$PWD/src .venv/bin/python bench/sandbox_dp_smartnoise.py [--rows 1000000]
        [--runs 9] [--max-rows-per-identity 12] [--epsilon 1.0] [--group-by region]

The same query, ε and privacy unit on both sides over the cached data set
(bench/sandbox_setup.py: ~20 rows per identity, 31 regions × 17 industries):

    SELECT region, COUNT(*) AS n, SUM(kwh) AS kwh_total, AVG(bill) AS bill_avg
    FROM <table> GROUP BY region

- sandbox: a `dp`-mode table (identity `uscc`, at most L rows per identity, kwh ∈ [0, 20000],
  bill ∈ [0, 5000], ε per query) queried through `POST /api/v1/sandbox/queries`; the first
  query of the table version builds the per-version cache and is reported on its own;
- SmartNoise SQL 1.0.10 (bench/smartnoise_worker.py) in its own venv, build/smartnoise-venv,
  created here on first use with pip (it needs opendp < 0.15, shugu has a newer one): the
  same file loaded into an in-memory DuckDB table, read through SmartNoise's Postgres reader
  with `uscc` as private_id, max_ids = L with sample_max_ids (random rows per identity),
  censor_dims (noisy threshold on group keys), the same bounds and total ε; the subprocess
  times `reader.execute(query)` only.

Raw DuckDB (no privacy) is printed as the floor. Medians of `--runs` after each side's first
query are compared. Target: SmartNoise / sandbox ≥ 5.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
import sandbox_setup as sb

SMARTNOISE = "smartnoise-sql==1.0.10"
VENV = sb.ROOT / "build" / "smartnoise-venv"
TARGET = 5.0


def smartnoise_python() -> Path:
    """The venv's python, created with pip on first use (needs PyPI)."""
    python = VENV / "bin" / "python"
    marker = VENV / ".complete"
    if not marker.exists():
        print(f"creating {VENV} with {SMARTNOISE} (first run only) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", SMARTNOISE,
                        f"duckdb=={duckdb.__version__}"], check=True)
        marker.touch()
    return python


def run_smartnoise(data: Path, args: argparse.Namespace) -> dict[str, Any]:
    columns = {"uscc": {"type": "string", "private_id": True},
               "region": {"type": "string"}, "industry": {"type": "string"},
               "month": {"type": "int"},
               "kwh": {"type": "int", "lower": sb.KWH[0], "upper": sb.KWH[1]},
               "bill": {"type": "float", "lower": sb.BILL[0], "upper": sb.BILL[1]}}
    proc = subprocess.run(
        [str(smartnoise_python()), str(Path(__file__).parent / "smartnoise_worker.py"),
         str(data), "--query", sb.dp_query(args.group_by, "bench.usage"),
         "--columns-json", json.dumps(columns), "--max-ids", str(args.max_rows_per_identity),
         "--epsilon", str(args.epsilon), "--delta", str(args.delta),
         "--repeat", str(args.runs), "--threads", str(sb.THREADS)],
        capture_output=True, text=True,
        # Nothing of shugu's (PYTHONPATH=src) in the other venv.
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    if proc.returncode != 0:
        raise SystemExit(f"SmartNoise failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--max-rows-per-identity", type=int, default=12)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--delta", type=float, default=1e-6)
    # With L = 12 both sides need several hundred identities in a group to release it; at
    # 1M rows the 31 regions hold ~1,600 each, the 527 region × industry groups ~95 (both
    # sides then release nothing, but still do all the work: `--group-by "region, industry"`).
    parser.add_argument("--group-by", default="region",
                        help="dimension columns (31 groups by default)")
    args = parser.parse_args()
    sb.header("entity-level DP: the sandbox vs SmartNoise SQL")
    data = sb.dataset(args.rows)
    smartnoise_python()  # before any timing
    body = sb.rules("dp", epsilon=args.epsilon, max_rows=args.max_rows_per_identity,
                    delta=args.delta)
    query = sb.dp_query(args.group_by)
    keys = len(args.group_by.split(","))
    with sb.exchange(data, body) as ex:
        if not ex.bounded:
            print("NOTE: this server refused dp.max_rows_per_identity (no contribution "
                  "bounding yet): the sandbox side is row-level DP, SmartNoise's is not",
                  flush=True)
        sandbox = sb.Sandbox(ex.consumer, query)
        raw_t, sandbox_t = sb.Timings("raw DuckDB (no privacy, floor)"), sb.Timings("sandbox")
        sb.side_by_side([(raw_t, sb.raw_duckdb(ex.files, query)), (sandbox_t, sandbox)],
                        args.runs)
        bounded = sb.bounded_counts(ex.files, args.group_by, args.max_rows_per_identity)
        threshold = sb.group_threshold(ex.consumer, query, args.epsilon)
    sn = run_smartnoise(data, args)
    sn_t = sb.Timings(f"SmartNoise SQL {sn['snsql']}", first=sn["timings"][0],
                      later=sn["timings"][1:])
    ours = {tuple(r[:keys]): r[keys] for r in sandbox.last.rows}
    theirs = {tuple(r[:keys]): r[keys] for r in sn["result"][1:]}
    print(f"{args.rows:,} rows, {len(bounded)} groups ({args.group_by}), privacy unit uscc, "
          f"L = {args.max_rows_per_identity} rows per identity, ε = {args.epsilon} per query, "
          f"δ = {args.delta:g}, threads {sb.THREADS}")
    print(f"sandbox released {len(ours)} groups"
          f"{'' if threshold is None else f' (threshold {threshold} noisy identities)'}; "
          f"SmartNoise (ε {sn['epsilon_per_mechanism']:.3f} per mechanism, "
          f"{sn['epsilon_total']:.3f} in total) released {len(theirs)}")
    print(f"{'group':<14} {'bounded n':>10} {'sandbox n':>10} {'SmartNoise n':>13}")
    for key in sorted(bounded)[:5]:
        print(f"{''.join(map(str, key)):<14} {bounded[key]:>10} {ours.get(key, '-'):>10} "
              f"{theirs.get(key, '-'):>13}")
    print(raw_t.line())
    print(sandbox_t.line(sandbox.server_note()))
    print(sn_t.line(f"  [in DuckDB: median {statistics.median(sn['engine'][1:]) * 1000:.0f} ms]"))
    ratio = statistics.median(sn_t.later) / sandbox_t.median
    print(f"ratio SmartNoise / sandbox (steady state): {ratio:.1f}x  (target >= {TARGET:g}x: "
          f"{'met' if ratio >= TARGET else 'NOT met'}); sandbox first query vs SmartNoise "
          f"first: {sn_t.first / sandbox_t.first:.1f}x")


if __name__ == "__main__":
    main()
