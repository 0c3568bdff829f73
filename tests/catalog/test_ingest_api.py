"""Ingestion over the real HTTP API with the SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from sqlalchemy import func, select

from shugu.catalog.models import DataTable
from shugu.client import Client, ShuguAPIError
from shugu.config import Settings
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import Orgs

LIMIT = 64 * 1024  # this module's exchange refuses larger uploads


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, max_upload_bytes=LIMIT)


@pytest.fixture
def product(provider: Client) -> str:
    provider.create_product("grid-load", "电网负荷", title_en="Grid load")
    provider.create_table("grid-load", "load")
    return "grid-load"


CSV = "地区,时段,负荷_MW\n杭州,2024-01-01 08:00:00,1520.5\n宁波,2024-01-01 08:00:00,980\n"


def state(exchange: Exchange) -> tuple[int | None, int, int, list[str]]:
    with exchange.read() as s:
        row = s.scalars(select(DataTable).where(DataTable.name == "load")).one()
        events = s.scalar(select(func.count()).where(LedgerEvent.action == "table.ingested"))
        version, count = row.current_version, row.row_count
    uploads = exchange.settings.uploads_dir
    left = sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []
    return version, count, events or 0, left


def test_ingest_a_path_then_append_bytes(provider: Client, product: str, tmp_path: Path,
                                         exchange: Exchange) -> None:
    path = tmp_path / "负荷.csv"
    path.write_text(CSV, encoding="gbk")
    sent: list[int] = []
    out = provider.ingest(product, "load", path, progress=sent.append)
    assert (out.version, out.rows, out.encoding, out.source_name) == (0, 2, "gb18030", "负荷.csv")
    assert sum(sent) == path.stat().st_size
    assert [(c.name, c.type) for c in out.columns] == [
        ("地区", "string"), ("时段", "timestamp_ntz"), ("负荷_MW", "double")]
    again = provider.ingest(product, "load", CSV.encode(), filename="more.csv")
    assert (again.version, again.encoding) == (1, "utf-8")
    table = provider.get_product(product).tables[0]
    assert (table.current_version, table.row_count) == (1, 4)
    assert [c.name for c in table.columns] == ["地区", "时段", "负荷_MW"]
    assert state(exchange)[3] == []  # the upload's temp file is gone


def test_options_travel_as_query_parameters(provider: Client, product: str) -> None:
    out = provider.ingest(product, "load", b"a|b\nx,1|2\n", delimiter="|", header=True)
    assert [c.name for c in out.columns] == ["a", "b"]
    parquet = io.BytesIO()
    pq.write_table(pa.table({"a": ["y"], "b": [3]}), parquet)
    out = provider.ingest(product, "load", parquet.getvalue(), format="parquet",
                          mode="overwrite")
    assert (out.source_format, out.mode, out.rows) == ("parquet", "overwrite", 1)


def test_bad_input_is_a_4xx_with_its_code(provider: Client, product: str,
                                          exchange: Exchange) -> None:
    provider.ingest(product, "load", CSV.encode())
    before = state(exchange)
    with pytest.raises(ShuguAPIError) as info:
        provider.ingest(product, "load", CSV.encode() + "上海,2024-01-01,1,多余\n".encode())
    assert (info.value.status, info.value.code) == (422, "ragged_rows")
    assert info.value.details["line"] == 4
    with pytest.raises(ShuguAPIError) as info:
        provider.ingest(product, "load", "地区,时段,负荷_MW\n上海,下午,1\n".encode())
    assert (info.value.status, info.value.code) == (409, "schema_conflict")
    assert info.value.details["column"] == "时段"
    assert state(exchange) == before


def test_another_organisation_is_refused(product: str, orgs: Orgs, exchange: Exchange) -> None:
    other = orgs.new(["provider"], "别家公司")
    before = state(exchange)
    with pytest.raises(ShuguAPIError) as info:
        other.ingest(product, "load", CSV.encode())
    assert (info.value.status, info.value.code) == (403, "not_product_owner")
    assert state(exchange) == before


def test_upload_over_the_limit_is_413(provider: Client, product: str,
                                      exchange: Exchange) -> None:
    big = CSV.encode() + "杭州,2024-01-01 09:00:00,1\n".encode() * (LIMIT // 20)
    assert len(big) > LIMIT
    before = state(exchange)
    with pytest.raises(ShuguAPIError) as info:
        provider.ingest(product, "load", big)  # declared by Content-Length
    assert (info.value.status, info.value.code) == (413, "upload_too_large")
    with pytest.raises(ShuguAPIError) as info:
        provider.ingest(product, "load", io.BytesIO(big))  # streamed, found out on the way
    assert (info.value.status, info.value.code) == (413, "upload_too_large")
    assert state(exchange) == before
    with exchange.read() as s:
        where = exchange.settings.tables_dir / s.scalars(select(DataTable.location)).one()
    assert not where.exists()
    out = provider.ingest(product, "load", big[:LIMIT].rsplit(b"\n", 1)[0] + b"\n")
    assert out.version == 0  # just under the limit is fine
    assert DeltaTable(str(where)).version() == 0


def test_null_markers_travel_from_the_sdk(provider: Client, product: str,
                                          exchange: Exchange) -> None:
    out = provider.ingest(product, "load", "地区,负荷_MW\nNA,1\n,\\N\n杭州,2\n".encode(),
                          null_values=["", "NA", "\\N"])
    assert [(c.name, c.type) for c in out.columns] == [("地区", "string"), ("负荷_MW", "long")]
    with exchange.read() as s:
        where = exchange.settings.tables_dir / s.scalars(select(DataTable.location)).one()
    rows = DeltaTable(str(where)).to_pyarrow_table().to_pylist()
    assert rows == [{"地区": None, "负荷_MW": 1}, {"地区": None, "负荷_MW": None},
                    {"地区": "杭州", "负荷_MW": 2}]


@pytest.mark.parametrize(("query", "code"), [
    # A NUL anywhere in a request is refused by the request guard (api/guard.py) first.
    ("delimiter=%00", "invalid_characters"), ("delimiter=", "invalid_delimiter"),
    ("delimiter=%0A", "invalid_delimiter"), ("delimiter=%22", "invalid_delimiter"),
    ("delimiter=%EF%BC%8C", "invalid_delimiter"), ("delimiter=ab", "invalid_delimiter"),
    ("null_values=a%0Ab", "invalid_null_values"),
    ("encoding=utf%008", "invalid_characters"), ("encoding=base64", "encoding_error"),
])
def test_bad_options_are_refused_before_the_upload(provider: Client, product: str,
                                                   exchange: Exchange, query: str,
                                                   code: str) -> None:
    provider.ingest(product, "load", CSV.encode())
    before = state(exchange)
    response = httpx.put(f"{provider.base_url}/api/v1/products/{product}/tables/load/data"
                         f"?{query}", content=CSV.encode(), headers={
                             "Authorization": f"Bearer {provider.token}"})
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"]["code"] == code
    assert state(exchange) == before  # nothing written, no upload file left
    assert provider.ingest(product, "load", CSV.encode()).version == 1  # server alive


def test_cli_passes_null_markers(provider: Client, product: str, tmp_path: Path,
                                 exchange: Exchange) -> None:
    from typer.testing import CliRunner

    from shugu.cli import app

    path = tmp_path / "nulls.csv"
    path.write_text("地区,负荷_MW\n-,1\n杭州,-\n")
    result = CliRunner().invoke(app, [
        "--url", provider.base_url, "--token", str(provider.token), "--json", "ingest",
        product, "load", str(path), "--null-value", "", "--null-value", "-"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["columns"][1]["type"] == "long"
    with exchange.read() as s:
        where = exchange.settings.tables_dir / s.scalars(select(DataTable.location)).one()
    assert DeltaTable(str(where)).to_pyarrow_table().column("地区").to_pylist() == [None, "杭州"]
