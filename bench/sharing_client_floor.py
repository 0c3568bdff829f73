"""The official client's own cost, with no network: why load_as_pandas cannot reach 1.5x.

    .venv/bin/python bench/sharing_client_floor.py [--rows 5000000] [--rounds 8]

Writes the bench table as shugu's ingest does (one Delta file, snappy, 256k-row groups), then
times, on the same local file, `pandas.read_parquet` (the target's baseline) and the steps
delta-sharing 1.4's `load_as_pandas` applies to every file it downloads: a pyarrow dataset
read, `to_pandas(use_threads=False, split_blocks=False)`, `pd.concat` and the column-reorder
copy. Whatever a server does, the client's time over loopback is at least this floor plus
the transfer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import DeltaTable, WriterProperties, write_deltalake

sys.path.insert(0, str(Path(__file__).parent))
import sharing_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shugu-bench-") as tmp:
        src = Path(tmp) / "source.parquet"
        sharing_load.make_source(src, args.rows)
        table_dir = Path(tmp) / "table"
        write_deltalake(str(table_dir), pq.read_table(src), target_file_size=128 << 20,
                        writer_properties=WriterProperties(
            compression="SNAPPY", max_row_group_size=256 * 1024))
        [path] = [u.removeprefix("file://") for u in DeltaTable(str(table_dir)).file_uris()]
        columns = pq.read_schema(path).names

        def baseline() -> pd.DataFrame:
            return pd.read_parquet(path)

        def client_steps() -> pd.DataFrame:
            frame = ds.dataset(path, format="parquet").to_table().to_pandas(
                date_as_object=True, use_threads=False, split_blocks=False, self_destruct=True)
            merged = pd.concat([frame], axis=0, ignore_index=True, copy=False)
            return merged[columns]

        times: dict[str, list[float]] = {"baseline": [], "client": []}
        for _ in range(args.rounds):
            for name, fn in (("baseline", baseline), ("client", client_steps)):
                began = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - began)
        for name, label in (("baseline", "pandas.read_parquet"),
                            ("client", "client steps, no network")):
            t = times[name]
            print(f"  {label:<26} best {min(t):.3f} s  median {statistics.median(t):.3f} s")
        best = min(times["client"]) / min(times["baseline"])
        median = statistics.median(times["client"]) / statistics.median(times["baseline"])
        print(f"  floor ratio: best {best:.2f}x, median {median:.2f}x (the target is <= 1.5x "
              "including the transfer)")


if __name__ == "__main__":
    main()
