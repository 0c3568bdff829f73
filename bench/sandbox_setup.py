"""Shared by the sandbox benchmarks: the data set, a real exchange serving it, and timing.

The data set is a person-level table of monthly electricity use: ~20 rows per identity
(`uscc`, an 18-character string), each identity in one of 31 regions × 17 industries =
527 groups, kwh an integer column with a long tail above its declared bound, bill a float
column. It is generated once per size with numpy/pyarrow and cached as one Parquet file
in build/bench-data/.

The exchange is real: `shugu serve` in its own process on loopback (as in production: an
in-process server would share the client's GIL), a provider that ingests the file through
the API and sets the table's analysis rules, and a consumer entitled to the sandbox with a
large privacy budget. Queries go through `POST /api/v1/sandbox/queries`, so a sandbox time
is the whole consumer-visible path: gate, per-version cache, engine, noise or threshold,
the transaction that records and debits the query with its ledger event, the stored
result and the JSON answer.
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import sharing_setup

from shugu.client import Client, ShuguAPIError

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "build" / "bench-data"
RUNS = ROOT / "build" / "bench-runs"
SLUG = "bench-usage"
TABLE = f'"{SLUG}".usage'
ROWS_PER_IDENTITY = 20
REGIONS = 31
INDUSTRIES = 17   # 31 × 17 = 527 groups
KWH = (0, 20_000)
BILL = (0.0, 5_000.0)
THREADS = 2       # the sandbox's default SHUGU_SANDBOX_THREADS; raw DuckDB gets the same


# -- data ------------------------------------------------------------------------------------

def dataset(rows: int) -> Path:
    """The cached Parquet file of `rows` rows (built on first use, ~1 s per million rows)."""
    path = DATA / f"usage_{rows}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    identities = max(rows // ROWS_PER_IDENTITY, 1)
    rng = np.random.default_rng(20261203)
    names = pa.array([f"91330100MA{i:08d}" for i in range(identities)])
    regions = pa.array([f"地区{r:02d}" for r in range(REGIONS)])
    industries = pa.array([f"行业{i:02d}" for i in range(INDUSTRIES)])
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    writer: pq.ParquetWriter | None = None
    try:
        for lo in range(0, rows, 1_000_000):
            n = min(1_000_000, rows - lo)
            # Rows fall on identities at random: Poisson(20) rows each, so a bound of L = 12
            # rows per identity cuts most of them.
            who = rng.integers(0, identities, n)
            chunk = pa.table({
                "uscc": names.take(who),
                "region": regions.take(who % REGIONS),
                "industry": industries.take((who // REGIONS) % INDUSTRIES),
                "month": pa.array(rng.integers(1, 13, n), pa.int32()),
                # Median ~3,000 kWh; ~3% of rows lie above the declared upper bound.
                "kwh": pa.array(rng.lognormal(8.0, 1.0, n).astype(np.int64)),
                "bill": pa.array(np.round(rng.gamma(2.0, 800.0, n), 2)),
            })
            writer = writer or pq.ParquetWriter(tmp, chunk.schema)
            writer.write_table(chunk, row_group_size=1_000_000)
        assert writer is not None
        writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"generated {rows:,} rows ({identities:,} identities) into {path} in "
          f"{time.perf_counter() - began:.1f} s (once)", flush=True)
    return path


# -- analysis rules --------------------------------------------------------------------------

def rules(mode: str, *, k: int = 10, epsilon: float = 1.0, max_rows: int = 12,
          delta: float = 1e-6) -> dict[str, Any]:
    """The table's analysis rules in the issue-12 shape (docs: SANDBOX_SPEC)."""
    body: dict[str, Any] = {
        "mode": mode, "min_identities": k,
        "columns": {
            "uscc": {"role": "identity"},
            "region": {"role": "dimension"},
            "industry": {"role": "dimension"},
            "month": {"role": "dimension"},
            "kwh": {"role": "aggregatable", "functions": ["SUM", "AVG", "COUNT"],
                    "lower": KWH[0], "upper": KWH[1]},
            "bill": {"role": "aggregatable", "functions": ["SUM", "AVG", "COUNT"],
                     "lower": BILL[0], "upper": BILL[1]},
        },
    }
    if mode == "dp":
        body["dp"] = {"epsilon_per_query": epsilon, "max_rows_per_identity": max_rows,
                      "delta": delta}
    return body


def _older_shape(body: dict[str, Any]) -> dict[str, Any]:
    """The same rules for a main without contribution bounding (DPSettings held only
    epsilon_per_query then): the benchmark still runs, and says it measured without."""
    old = copy.deepcopy(body)
    if "dp" in old:
        old["dp"] = {"epsilon_per_query": old["dp"]["epsilon_per_query"]}
    return old


def dp_query(keys: str, table: str = TABLE) -> str:
    """The DP benchmarks' query, grouped by `keys` (comma-separated dimension columns)."""
    return (f"SELECT {keys}, COUNT(*) AS n, SUM(kwh) AS kwh_total, AVG(bill) AS bill_avg "
            f"FROM {table} GROUP BY {keys}")


# -- the exchange ----------------------------------------------------------------------------

@dataclass
class Exchange:
    bench: sharing_setup.Bench
    consumer: Client
    files: tuple[str, ...]       # the Delta table's current Parquet files (raw DuckDB's input)
    rules_applied: dict[str, Any]
    bounded: bool                # the server accepted max_rows_per_identity
    ingest_seconds: float


@contextmanager
def exchange(data: Path, rules_body: dict[str, Any]) -> Iterator[Exchange]:
    """A fresh exchange under build/bench-runs/ serving `data` with `rules_body`."""
    from deltalake import DeltaTable

    RUNS.mkdir(parents=True, exist_ok=True)
    # The first query of a table version builds the sandbox's per-version cache; a 10M-row
    # first query must not hit the default 30 s timeout (steady-state queries are far below).
    os.environ.setdefault("SHUGU_SANDBOX_TIMEOUT_SECONDS", "600")
    with tempfile.TemporaryDirectory(prefix="sandbox-", dir=RUNS) as tmp:
        bench = sharing_setup.start(Path(tmp) / "data")
        try:
            bench.provider.create_product(SLUG, "基准用电数据")
            bench.provider.create_table(SLUG, "usage")
            began = time.perf_counter()
            bench.provider.ingest(SLUG, "usage", data, format="parquet")
            ingest_seconds = time.perf_counter() - began
            bounded = True
            applied = rules_body
            try:
                bench.provider.set_analysis_rules(SLUG, "usage", rules_body)
            except ShuguAPIError as error:
                if error.status != 422 or "dp" not in rules_body:
                    raise
                applied, bounded = _older_shape(rules_body), False
                bench.provider.set_analysis_rules(SLUG, "usage", applied)
            e = bench.provider.grant_entitlement(bench.consumer_org_id, SLUG,
                                                 modes=["sandbox"])
            if rules_body["mode"] == "dp":
                bench.provider.set_privacy_budget(e.id, 1_000_000)
            files = tuple(DeltaTable(str(bench.table_dir("usage"))).file_uris())
            yield Exchange(bench, bench.consumer, files, applied, bounded, ingest_seconds)
        finally:
            bench.stop()


def bounded_counts(files: tuple[str, ...], keys: str,
                   limit: int | None) -> dict[tuple[Any, ...], int]:
    """COUNT(*) per group after keeping at most `limit` rows per identity: Σ min(rows of the
    identity in the group, limit), the same whichever rows are kept."""
    cap = f"LEAST(c, {limit})" if limit else "c"
    n = len(keys.split(","))
    sql = (f"SELECT {keys}, SUM({cap})::BIGINT FROM (SELECT {keys}, uscc, COUNT(*) AS c "
           f"FROM {TABLE} GROUP BY ALL) GROUP BY ALL")
    return {tuple(r[:n]): r[n] for r in raw_duckdb(files, sql)()}


def group_threshold(client: Client, sql: str, epsilon: float) -> int | None:
    """The noisy identities a group needs to be released, from POST /sandbox/estimate (None
    where the server has no such endpoint yet)."""
    import httpx

    response = httpx.post(f"{client.base_url}/api/v1/sandbox/estimate",
                          json={"sql": sql, "epsilon": epsilon},
                          headers={"Authorization": f"Bearer {client.token}"}, timeout=60)
    if response.status_code >= 400:
        return None
    value = response.json().get("group_threshold")
    return int(value) if value is not None else None


# -- timing ----------------------------------------------------------------------------------

def raw_duckdb(files: tuple[str, ...], sql: str) -> Callable[[], list[tuple[Any, ...]]]:
    """The consumer's query as written, over the same files, in a fresh connection with the
    sandbox's thread count (the sandbox also opens a fresh connection per query)."""
    listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    text = sql.replace(TABLE, f"read_parquet([{listing}])")

    def run() -> list[tuple[Any, ...]]:
        con = duckdb.connect(config={"threads": THREADS})
        try:
            return con.sql(text).fetchall()
        finally:
            con.close()

    return run


@dataclass
class Timings:
    name: str
    first: float = 0.0
    later: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.later)

    def line(self, extra: str = "") -> str:
        return (f"{self.name:<34} median {self.median * 1000:8.1f} ms  "
                f"(min {min(self.later) * 1000:.1f}, max {max(self.later) * 1000:.1f}, "
                f"n={len(self.later)}; first {self.first * 1000:.1f} ms){extra}")


class Sandbox:
    """The consumer's query through the API; keeps the last answer and the server's own
    `elapsed_ms` of each (engine time, without the recording transaction and HTTP)."""

    def __init__(self, client: Client, sql: str) -> None:
        self.client, self.sql = client, sql
        self.last: Any = None
        self.elapsed_ms: list[int] = []

    def __call__(self) -> None:
        self.last = self.client.sandbox_query(self.sql)
        self.elapsed_ms.append(self.last.query.elapsed_ms)

    def server_note(self) -> str:
        later = self.elapsed_ms[1:] or self.elapsed_ms
        return (f"  [server elapsed_ms: median {statistics.median(later):.0f}, first "
                f"{self.elapsed_ms[0]}]")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    out = fn()
    return time.perf_counter() - began, out


def side_by_side(sides: list[tuple[Timings, Callable[[], Any]]], runs: int) -> None:
    """Each side once (its `first`), then `runs` interleaved rounds, alternating which side
    goes first so that neither always follows the other's cache effects."""
    for t, fn in sides:
        t.first, _ = timed(fn)
    for i in range(runs):
        for t, fn in (sides if i % 2 == 0 else list(reversed(sides))):
            t.later.append(timed(fn)[0])


def header(title: str) -> None:
    print(f"== {title}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, duckdb "
          f"{duckdb.__version__}, load average {os.getloadavg()[0]:.1f}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", flush=True)
