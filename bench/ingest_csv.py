"""CSV ingestion throughput: shugu's ingest_file vs pyarrow's own CSV -> Parquet, same file.

    .venv/bin/python bench/ingest_csv.py [--path FILE.csv] [--size-gb 1.0] [--rounds 1]

Without --path it generates (once, cached under bench/out/) a CSV of realistic columns:
integers, decimals, company and place names in Chinese, dates, timestamps and short notes.
The baseline streams the file through pyarrow.csv.open_csv into a pyarrow ParquetWriter
with pyarrow's defaults; shugu ingests the same file into a new Delta table of a fresh
SQLite exchange (sniffing, SHA-256, UTF-8 check, Delta commit and database record
included). Rounds alternate the two; the best of each is compared. Target: ratio >= 0.7.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import select

from shugu.catalog import products, schemas
from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.ingest.service import ingest_file
from shugu.config import Settings
from shugu.identity import schemas as identity_schemas
from shugu.identity import service as identity
from shugu.identity.models import User
from shugu.identity.principal import Principal
from shugu.identity.uscc import complete
from shugu.runtime import Exchange

CACHE = Path(__file__).parent / "out"  # git-ignored

COMPANIES = np.array(["浙江电网公司", "杭州银行股份有限公司", "宁波舟山港集团有限公司",
                      "温州鞋业股份有限公司", "Alibaba Cloud Computing Ltd.", "绍兴纺织印染厂",
                      "嘉兴光伏科技有限公司", "金华五金制品公司", "台州汽车零部件有限公司"])
PLACES = np.array(["浙江省杭州市西湖区", "浙江省宁波市鄞州区", "浙江省温州市鹿城区",
                   "上海市浦东新区", "江苏省苏州市工业园区", "广东省深圳市南山区",
                   "Beijing Chaoyang District"])
NOTES = np.array(["正常", "峰值负荷", "计划检修", "normal load", "", "夜间低谷", "备用电源切换"])


def chunk(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2020-01-01")
    return pa.table({
        "record_id": np.arange(seed * rows, (seed + 1) * rows, dtype=np.int64),
        "企业名称": COMPANIES[rng.integers(0, len(COMPANIES), rows)],
        "地址": PLACES[rng.integers(0, len(PLACES), rows)],
        "meter_no": rng.integers(10**9, 10**10, rows),
        "用电量_kwh": np.round(rng.gamma(2.0, 5000.0, rows), 2),
        "单价": np.round(0.4 + rng.random(rows) * 0.5, 4),
        "账期": pa.array(start + rng.integers(0, 1800, rows).astype("timedelta64[D]")),
        "抄表时间": pa.array(start.astype("datetime64[s]")
                         + rng.integers(0, 1800 * 86400, rows).astype("timedelta64[s]")),
        "备注": NOTES[rng.integers(0, len(NOTES), rows)],
    })


def generate(path: Path, size: float) -> None:
    target = int(size * 1e9)
    print(f"generating {path} (~{size} GB) ...", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as sink:
        first = chunk(200_000, 0)
        with pacsv.CSVWriter(sink, first.schema) as writer:
            writer.write_table(first)
            seed = 1
            while sink.tell() < target:
                writer.write_table(chunk(200_000, seed))
                seed += 1
    partial.rename(path)


def baseline(path: Path, work: Path) -> None:
    """pyarrow's own streaming CSV -> Parquet, with its defaults."""
    reader = pacsv.open_csv(path)
    with pq.ParquetWriter(work / "baseline.parquet", reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)


def provider(ex: Exchange) -> Principal:
    with ex.transaction() as s:
        operator = identity.principal_for(
            s.scalars(select(User).where(User.username == "operator")).one())
        data = identity_schemas.OrganizationIn(uscc=complete("91330100MA2BENCH0"),
                                               name="基准测试公司", roles=["provider"],
                                               admin_username="bench")
        _org, admin, *_ = identity.create_organization(s, operator, data, ex.token_ttl)
        who = identity.principal_for(admin)
        products.create_product(s, who, schemas.ProductIn(slug="bench", title_zh="基准"))
    return who


def shugu(path: Path, work: Path) -> Callable[[], None]:
    """A fresh exchange with one table per round; only ingest_file is timed."""
    ex = Exchange.open(Settings(data_dir=work / "exchange"))
    who = provider(ex)
    counter = iter(range(1000))

    def run() -> None:
        name = f"t{next(counter)}"
        with ex.transaction() as s:
            table = products.create_table(s, who, "bench", schemas.TableIn(name=name))
        start = time.perf_counter()
        out = ingest_file(ex, who, "bench", name, path, mode="append",
                          options=IngestOptions(), source_name=path.name)
        run.elapsed = time.perf_counter() - start  # type: ignore[attr-defined]
        shutil.rmtree(ex.settings.tables_dir / table.location)  # keep the disk free
        print(f"    shugu wrote version {out.version}: {out.rows:,} rows, "
              f"{len(out.columns)} columns", flush=True)

    return run


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return float(getattr(action, "elapsed", time.perf_counter() - start))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, help="CSV to ingest (default: generated)")
    parser.add_argument("--size-gb", type=float, default=1.0, help="size of the generated CSV")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    path: Path = args.path or CACHE / f"ingest_{args.size_gb:g}gb.csv"
    if not path.exists():
        if args.path:
            parser.error(f"{path} does not exist")
        generate(path, args.size_gb)
    mb = path.stat().st_size / 1e6
    with open(path, "rb") as fh:  # warm the page cache so neither side pays for the disk
        while fh.read(64 << 20):
            pass
    best = {"pyarrow": float("inf"), "shugu": float("inf")}
    with tempfile.TemporaryDirectory(dir=CACHE if CACHE.exists() else None) as tmp:
        work = Path(tmp)
        ours = shugu(path, work)
        for round_ in range(1, args.rounds + 1):
            for name, action in (("pyarrow", lambda: baseline(path, work)), ("shugu", ours)):
                seconds = timed(action)
                best[name] = min(best[name], seconds)
                print(f"round {round_} {name:8s} {seconds:7.2f} s  {mb / seconds:7.1f} MB/s",
                      flush=True)
    pyarrow_rate, shugu_rate = mb / best["pyarrow"], mb / best["shugu"]
    print(f"\nfile: {path} ({mb:,.0f} MB)")
    print(f"pyarrow CSV->Parquet : {pyarrow_rate:7.1f} MB/s")
    print(f"shugu ingest_file    : {shugu_rate:7.1f} MB/s")
    print(f"ratio shugu/pyarrow  : {shugu_rate / pyarrow_rate:.2f} (target >= 0.7)")


if __name__ == "__main__":
    main()
