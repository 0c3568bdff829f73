"""delta_sharing.load_as_pandas of a 5,000,000-row table over loopback vs pandas.read_parquet
of the same files on local disk.

    .venv/bin/python bench/sharing_load.py [--rows 5000000] [--rounds 3]

Builds a fresh exchange in a temporary directory, ingests the table through the SDK, grants
a consumer, then alternates the two readers and prints the best time of each and the ratio.
Target: ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import sharing_setup

SLUG = "bench-load"


def make_source(path: Path, rows: int) -> None:
    rng = np.random.default_rng(7)
    regions = np.array(["杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "台州"])
    start = np.datetime64("2024-01-01T00:00:00", "us")
    chunk = 1_000_000
    writer = None
    for lo in range(0, rows, chunk):
        n = min(chunk, rows - lo)
        ids = np.arange(lo, lo + n, dtype=np.int64)
        table = pa.table({
            "id": ids,
            "load_mw": rng.normal(1000, 250, n),
            "region": pa.array(regions[ids % len(regions)]),
            "at": pa.array(start + ids * np.timedelta64(60, "s"), pa.timestamp("us", "UTC")),
            "flag": ids % 3 == 0,
        })
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import delta_sharing
    from deltalake import DeltaTable

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, "
          f"delta-sharing {delta_sharing.__version__}")
    with tempfile.TemporaryDirectory(prefix="shugu-bench-") as tmp:
        work = Path(tmp)
        src = work / "source.parquet"
        make_source(src, args.rows)
        bench = sharing_setup.start(work / "data")
        try:
            bench.provider.create_product(SLUG, "基准负荷数据")
            bench.provider.create_table(SLUG, "load")
            began = time.perf_counter()
            bench.provider.ingest(SLUG, "load", src, format="parquet")
            print(f"ingested {args.rows:,} rows in {time.perf_counter() - began:.1f} s")
            bench.provider.grant_entitlement(bench.consumer_org_id, SLUG)
            profile = bench.profile(work / "bench.share")
            files = [Path(u.removeprefix("file://"))
                     for u in DeltaTable(str(bench.table_dir("load"))).file_uris()]
            size = sum(f.stat().st_size for f in files)
            print(f"table: {len(files)} file(s), {size / 1e6:.1f} MB")

            def local() -> pd.DataFrame:
                return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)

            def shared() -> pd.DataFrame:
                return delta_sharing.load_as_pandas(f"{profile}#{SLUG}.default.load")

            times: dict[str, list[float]] = {"local": [], "shared": []}
            for _ in range(args.rounds):
                for name, fn in (("local", local), ("shared", shared)):
                    t0 = time.perf_counter()
                    frame = fn()
                    times[name].append(time.perf_counter() - t0)
                    assert len(frame) == args.rows, (name, len(frame))
                    del frame
            best = {k: min(v) for k, v in times.items()}
            print(f"  pandas.read_parquet, local files   {best['local']:6.2f} s")
            print(f"  delta_sharing.load_as_pandas       {best['shared']:6.2f} s")
            ratio = best["shared"] / best["local"]
            print(f"  ratio {ratio:.2f}x (target <= 1.5)  {'OK' if ratio <= 1.5 else 'MISSED'}")
        finally:
            bench.stop()


if __name__ == "__main__":
    main()
