"""Delta Sharing fixtures: products ingested through the SDK, entitled consumers, profiles."""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from shugu.catalog.models import DataTable
from shugu.client import Client
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs

SLUG = "grid-load"


def source(start: int, n: int) -> pa.Table:
    """Rows covering the types consumers read: every column has nulls somewhere."""
    ids = list(range(start, start + n))
    return pa.table({
        "id": pa.array(ids, pa.int64()),
        "small": pa.array([None if i % 5 == 0 else i * 3 for i in ids], pa.int32()),
        "load_mw": pa.array([None if i % 7 == 0 else i * 1.5 for i in ids], pa.float64()),
        "price": pa.array([None if i % 6 == 0 else Decimal(i) / 100 for i in ids],
                          pa.decimal128(10, 2)),
        "region": pa.array([["杭州", "宁波", "温州"][i % 3] for i in ids], pa.string()),
        "note": pa.array([None if i % 4 == 0 else f"第{i}条 记录" for i in ids], pa.string()),
        "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i % 40) for i in ids],
                        pa.date32()),
        "at": pa.array([None if i % 9 == 0 else
                        dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=i)
                        for i in ids], pa.timestamp("us", "UTC")),
        "ok": pa.array([None if i % 8 == 0 else i % 2 == 0 for i in ids], pa.bool_()),
    })


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def ingest(client: Client, slug: str, table: str, data: pa.Table) -> int:
    out = client.ingest(slug, table, parquet_bytes(data), format="parquet",
                        filename=f"{table}.parquet")
    return out.version


def table_dir(exchange: Exchange, name: str) -> Path:
    with exchange.read() as s:
        t = s.scalars(select(DataTable).where(DataTable.name == name)).one()
        return exchange.settings.tables_dir / t.location


def commit_time(directory: Path, version: int) -> str:
    """The commit's timestamp in the protocol's format (UTC), read from the Delta log."""
    log = directory / "_delta_log" / f"{version:020d}.json"
    for line in log.read_text().splitlines():
        info = json.loads(line).get("commitInfo")
        if info:
            when = dt.datetime.fromtimestamp(info["timestamp"] / 1000, dt.UTC)
            return when.strftime("%Y-%m-%d %H:%M:%S.%f")
    raise AssertionError(f"no commitInfo in {log}")


def record_version(exchange: Exchange, name: str, version: int) -> None:
    """Test setup only: shugu has no update/delete API yet, so tests change a table with
    deltalake directly and then publish the new version as an ingest would."""
    with exchange.transaction() as s:
        t = s.scalars(select(DataTable).where(DataTable.name == name)).one()
        t.current_version = version


def write_profile(client: Client, server: LiveServer, path: Path) -> str:
    profile = client.sharing_profile("tests")
    # The endpoint comes from the request's own base URL when no public URL is set.
    assert profile["endpoint"] == f"{server.url}/delta-sharing"
    path.write_text(json.dumps(profile))
    return str(path)


@dataclass
class Shared:
    provider: Client
    consumer: Client
    profile: str
    entitlement_id: int
    slug: str = SLUG

    def url(self, table: str) -> str:
        return f"{self.profile}#{self.slug}.default.{table}"


@pytest.fixture
def shared(provider: Client, consumer: Client, server: LiveServer, tmp_path: Path) -> Shared:
    provider.create_product(SLUG, "电网负荷", title_en="Grid load")
    provider.create_table(SLUG, "load")
    ingest(provider, SLUG, "load", source(0, 50))
    e = provider.grant_entitlement(consumer.org_id, SLUG)  # type: ignore[attr-defined]
    return Shared(provider, consumer, write_profile(consumer, server, tmp_path / "p.share"),
                  e.id)


@pytest.fixture
def stranger(orgs: Orgs, server: LiveServer, tmp_path: Path) -> str:
    """The profile of a consumer organisation with no entitlement."""
    other = orgs.new(["consumer"], "另一家银行")
    return write_profile(other, server, tmp_path / "stranger.share")
