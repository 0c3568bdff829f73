"""POST /delta-sharing/.../query on a table of 10,000 files: latency percentiles.

    .venv/bin/python bench/sharing_query.py [--files 10000] [--requests 50]

Builds a fresh exchange in a temporary directory, ingests one table partitioned into
`--files` partitions (one data file each) through the SDK, grants a consumer, then times
the protocol's /query over HTTP on loopback: the first request (log replay, cold caches) and
the p50/p95 of the rest — each signs every file's URL and meters the query in its own write
transaction with a ledger event. Also times a query with a partition predicate and with a
limitHint. Target: p50 < 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import sharing_setup

SLUG = "bench-query"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    with tempfile.TemporaryDirectory(prefix="shugu-bench-") as tmp:
        work = Path(tmp)
        src = work / "source.parquet"
        rows = args.files * 10
        ids = np.arange(rows, dtype=np.int64)
        pq.write_table(pa.table({"shard": ids % args.files, "id": ids,
                                 "value": np.sqrt(ids.astype(np.float64))}), src)
        bench = sharing_setup.start(work / "data", args.database_url)
        try:
            bench.provider.create_product(SLUG, "基准分片表")
            bench.provider.create_table(SLUG, "shards", partition_by=["shard"])
            began = time.perf_counter()
            bench.provider.ingest(SLUG, "shards", src, format="parquet")
            print(f"ingested {rows:,} rows into {args.files:,} partitions in "
                  f"{time.perf_counter() - began:.1f} s")
            bench.provider.grant_entitlement(bench.consumer_org_id, SLUG)
            profile = json.loads(Path(bench.profile(work / "bench.share")).read_text())
            url = f"{profile['endpoint']}/shares/{SLUG}/schemas/default/tables/shards/query"
            auth = {"Authorization": f"Bearer {profile['bearerToken']}"}
            with httpx.Client(headers=auth, timeout=60) as http:

                def query(body: dict[str, object]) -> tuple[float, int]:
                    t0 = time.perf_counter()
                    r = http.post(url, json=body)
                    elapsed = time.perf_counter() - t0
                    r.raise_for_status()
                    return elapsed, len(r.text.splitlines()) - 2

                first, n = query({})
                print(f"first /query (cold): {first * 1000:7.1f} ms, {n:,} files")
                times = [query({})[0] for _ in range(args.requests)]
                p50 = statistics.median(times) * 1000
                p95 = sorted(times)[int(len(times) * 0.95) - 1] * 1000
                print(f"/query, all {n:,} files, {args.requests} requests: "
                      f"p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  (target p50 < 300 ms) "
                      f"{'OK' if p50 < 300 else 'MISSED'}")
                hint = json.dumps({"op": "equal", "children": [
                    {"op": "column", "name": "shard", "valueType": "long"},
                    {"op": "literal", "value": "42", "valueType": "long"}]})
                hinted = [query({"jsonPredicateHints": hint}) for _ in range(10)]
                print(f"/query, partition predicate: p50 "
                      f"{statistics.median(t for t, _ in hinted) * 1000:7.1f} ms, "
                      f"{hinted[0][1]} file(s)")
                limited = [query({"limitHint": 25}) for _ in range(10)]
                print(f"/query, limitHint 25:        p50 "
                      f"{statistics.median(t for t, _ in limited) * 1000:7.1f} ms, "
                      f"{limited[0][1]} file(s)")
        finally:
            bench.stop()


if __name__ == "__main__":
    main()
