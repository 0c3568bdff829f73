"""Ingestion into Delta tables through the service, on SQLite and PostgreSQL.

Every refusal is checked for its code and for leaving nothing behind: the table's version
and row count, the ledger and the files on disk are as they were.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake
from sqlalchemy import func, select, update

from shugu.catalog import products, schemas
from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.ingest.service import ingest_file
from shugu.catalog.models import DataTable, Ingest
from shugu.errors import ShuguError
from shugu.identity import schemas as identity_schemas
from shugu.identity import service as identity
from shugu.identity.models import User
from shugu.identity.principal import Principal
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import new_uscc

# ------------------------------------------------------------------------------ helpers


def make_provider(ex: Exchange, slug: str = "power-use") -> Principal:
    """A provider organisation with one product, made through the real services."""
    with ex.transaction() as s:
        operator = identity.principal_for(
            s.scalars(select(User).where(User.username == "operator")).one())
        data = identity_schemas.OrganizationIn(
            uscc=new_uscc(), name="浙江电网公司", roles=["provider"],
            admin_username=f"admin-{slug}")
        _org, admin, *_ = identity.create_organization(s, operator, data, ex.token_ttl)
        who = identity.principal_for(admin)
        products.create_product(s, who, schemas.ProductIn(slug=slug, title_zh="企业月度用电量"))
    return who


@dataclass
class Shelf:
    """A provider's product and helpers to ingest into its tables and look at the result."""

    ex: Exchange
    who: Principal
    tmp: Path
    slug: str = "power-use"

    def table(self, name: str = "t", partition_by: list[str] | None = None) -> str:
        with self.ex.transaction() as s:
            products.create_table(s, self.who, self.slug,
                                  schemas.TableIn(name=name, partition_by=partition_by or []))
        return name

    def file(self, data: bytes | str, name: str = "upload.csv") -> Path:
        path = self.tmp / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def ingest(self, data: bytes | str | Path, table: str = "t", *, mode: str = "append",
               who: Principal | None = None, **options: object) -> schemas.IngestOut:
        path = data if isinstance(data, Path) else self.file(data)
        return ingest_file(self.ex, who or self.who, self.slug, table, path,
                           mode=mode,  # type: ignore[arg-type]
                           options=IngestOptions(**options),  # type: ignore[arg-type]
                           source_name=path.name)

    def refused(self, data: bytes | str | Path, table: str = "t", **kw: object) -> ShuguError:
        with pytest.raises(ShuguError) as info:
            self.ingest(data, table, **kw)  # type: ignore[arg-type]
        return info.value

    def row(self, table: str = "t") -> DataTable:
        with self.ex.read() as s:
            return s.scalars(select(DataTable).where(DataTable.name == table)).one()

    def delta_dir(self, table: str = "t") -> Path:
        return self.ex.settings.tables_dir / self.row(table).location

    def data(self, table: str = "t") -> pa.Table:
        """What consumers see: the Delta table at the version the database published."""
        version = self.row(table).current_version
        assert version is not None
        return DeltaTable(str(self.delta_dir(table)), version=version).to_pyarrow_table()

    def events(self, action: str = "table.ingested") -> int:
        with self.ex.read() as s:
            return s.scalar(select(func.count()).where(LedgerEvent.action == action)) or 0

    def snapshot(self, table: str = "t") -> tuple[object, ...]:
        """Everything an ingest may change, to show that a refused one changed nothing."""
        row = self.row(table)
        where = self.delta_dir(table)
        files = sorted(p.relative_to(where).as_posix() for p in where.rglob("*") if p.is_file()) \
            if where.exists() else []
        with self.ex.read() as s:
            ingests = s.scalar(select(func.count(Ingest.id)))
        return row.current_version, row.row_count, row.schema_json, self.events(), ingests, files


@pytest.fixture
def shelf(exchange: Exchange, tmp_path: Path) -> Shelf:
    return Shelf(exchange, make_provider(exchange), tmp_path)


def sorted_rows(table: pa.Table, key: str) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda r: r[key])  # type: ignore[arg-type,return-value]


POWER_CSV = ("企业名称,月份,用电量,单价,day\n"
             "杭州西湖科技有限公司,1,1200,0.61,2024-01-31\n"
             "宁波港口物流集团,1,98000,0.58,2024-01-31\n"
             "温州鞋业股份公司,2,3500,0.61,2024-02-29\n")


# ---------------------------------------------------------------------------- the basics


def test_utf8_csv_becomes_version_0_with_types(shelf: Shelf) -> None:
    shelf.table()
    seen: list[int] = []
    path = shelf.file(POWER_CSV)
    out = ingest_file(shelf.ex, shelf.who, shelf.slug, "t", path, mode="append",
                      options=IngestOptions(), source_name="电量.csv", progress=seen.append)
    assert (out.version, out.rows, out.mode, out.source_format) == (0, 3, "append", "csv")
    assert out.encoding == "utf-8"
    assert out.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert out.source_bytes == path.stat().st_size
    assert out.source_name == "电量.csv"
    assert [(c.name, c.type) for c in out.columns] == [
        ("企业名称", "string"), ("月份", "long"), ("用电量", "long"), ("单价", "double"),
        ("day", "date")]
    assert seen and seen[-1] == path.stat().st_size and seen == sorted(seen)
    row = shelf.row()
    assert (row.current_version, row.row_count) == (0, 3)
    assert row.schema_json == [c.model_dump() for c in out.columns]
    assert sorted_rows(shelf.data(), "用电量")[0]["企业名称"] == "杭州西湖科技有限公司"
    with shelf.ex.read() as s:
        event = s.scalars(select(LedgerEvent).where(
            LedgerEvent.action == "table.ingested")).one()
        ingest = s.get_one(Ingest, out.id)
    assert event.subject == "product:power-use/table:t"
    assert event.actor == shelf.who.actor
    assert '"version":0' in event.payload and out.source_sha256 in event.payload
    assert (ingest.version, ingest.rows, ingest.actor_user_id) == (0, 3, shelf.who.user_id)


def test_change_data_feed_is_on(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest(POWER_CSV)
    shelf.ingest("企业名称,月份,用电量,单价,day\n新客户,3,10,0.5,2024-03-31\n")
    table = DeltaTable(str(shelf.delta_dir()))
    assert table.metadata().configuration["delta.enableChangeDataFeed"] == "true"
    changes = pa.table(table.load_cdf(starting_version=1)).to_pylist()
    assert [(c["企业名称"], c["_change_type"], c["_commit_version"]) for c in changes] == [
        ("新客户", "insert", 1)]


def test_utf8_with_bom(shelf: Shelf) -> None:
    shelf.table()
    out = shelf.ingest(codecs.BOM_UTF8 + POWER_CSV.encode())
    assert out.encoding == "utf-8-sig"
    assert out.columns[0].name == "企业名称"  # not "\ufeff企业名称"


@pytest.mark.parametrize("declared", [None, "gbk", "GB18030"])
def test_gbk_file_with_chinese_text(shelf: Shelf, declared: str | None) -> None:
    shelf.table()
    out = shelf.ingest(POWER_CSV.encode("gbk"), encoding=declared)
    assert out.encoding == {None: "gb18030", "gbk": "gbk", "GB18030": "gb18030"}[declared]
    assert [c.name for c in out.columns][:3] == ["企业名称", "月份", "用电量"]
    assert "温州鞋业股份公司" in shelf.data().column("企业名称").to_pylist()


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"])
def test_other_delimiters_are_detected(shelf: Shelf, delimiter: str) -> None:
    shelf.table()
    out = shelf.ingest(POWER_CSV.replace(",", delimiter))
    assert out.rows == 3
    assert len(out.columns) == 5
    assert sorted(shelf.data().column("用电量").to_pylist()) == [1200, 3500, 98000]


def test_delimiter_can_be_forced(shelf: Shelf) -> None:
    shelf.table()
    # Commas inside values would fool a guess; the caller knows better.
    out = shelf.ingest("名称;备注\n甲,乙;一,二\n丙;三\n", delimiter=";")
    assert [c.name for c in out.columns] == ["名称", "备注"]
    assert sorted_rows(shelf.data(), "名称")[1] == {"名称": "甲,乙", "备注": "一,二"}


def test_headerless_file_gets_generated_names(shelf: Shelf) -> None:
    shelf.table()
    out = shelf.ingest("1,张三,3.5\n2,李四,4.25\n")
    assert [c.name for c in out.columns] == ["column_1", "column_2", "column_3"]
    assert out.rows == 2
    assert sorted_rows(shelf.data(), "column_1")[0] == {
        "column_1": 1, "column_2": "张三", "column_3": 3.5}


def test_header_can_be_declared_absent(shelf: Shelf) -> None:
    shelf.table()
    out = shelf.ingest("杭州,浙江\n南京,江苏\n", header=False)  # all text: a guess says header
    assert out.rows == 2 and out.columns[0].name == "column_1"


def test_unsafe_column_names_are_renamed(shelf: Shelf) -> None:
    shelf.table()
    out = shelf.ingest('"月 用电量",price(元),"a=b",ok\n1,2,3,4\n')
    assert out.renamed_columns == {"月 用电量": "月_用电量", "price(元)": "price_元_",
                                   "a=b": "a_b"}
    assert [c.name for c in out.columns] == ["月_用电量", "price_元_", "a_b", "ok"]


def test_quoted_newlines_and_delimiters_in_values(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest('id,地址\n1,"浙江省杭州市\n西湖区, 文三路"\n2,上海\n')
    assert sorted_rows(shelf.data(), "id")[0]["地址"] == "浙江省杭州市\n西湖区, 文三路"


# ---------------------------------------------------------------------- Parquet and Arrow


ARROW_DATA = pa.table({
    "id": pa.array([1, 2, 3], pa.uint32()),
    "名称": pa.array(["甲", "乙", "丙"]).dictionary_encode(),
    "amount": pa.array([1.5, 2.5, None], pa.float64()),
    "at": pa.array([1_700_000_000_123_456_789] * 3, pa.timestamp("ns")),
    "tags": pa.array([["a"], [], ["b", "c"]], pa.list_(pa.large_string())),
})


def test_parquet(shelf: Shelf) -> None:
    shelf.table()
    path = shelf.tmp / "data.parquet"
    pq.write_table(ARROW_DATA, path, row_group_size=2)
    out = shelf.ingest(path)
    assert (out.source_format, out.rows, out.encoding) == ("parquet", 3, None)
    assert out.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [(c.name, c.type) for c in out.columns] == [
        ("id", "long"), ("名称", "string"), ("amount", "double"), ("at", "timestamp_ntz"),
        ("tags", "array<string>")]
    first = sorted_rows(shelf.data(), "id")[0]
    assert first["名称"] == "甲" and first["tags"] == ["a"]
    assert first["at"].microsecond == 123456  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["file", "stream"])
def test_arrow_ipc(shelf: Shelf, kind: str) -> None:
    shelf.table()
    sink = io.BytesIO()
    opener = ipc.new_file if kind == "file" else ipc.new_stream
    with opener(sink, ARROW_DATA.schema) as writer:
        for batch in ARROW_DATA.to_batches(max_chunksize=1):
            writer.write_batch(batch)
    out = shelf.ingest(shelf.file(sink.getvalue(), f"data.arrow{kind}"))
    assert (out.source_format, out.rows) == ("arrow", 3)
    assert out.source_sha256 == hashlib.sha256(sink.getvalue()).hexdigest()
    assert out.source_bytes == len(sink.getvalue())
    assert sorted(shelf.data().column("id").to_pylist()) == [1, 2, 3]


def test_parquet_is_cast_to_the_table_when_safe(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest("id,amount,note\n1,1.5,x\n")  # id long, amount double, note string
    path = shelf.tmp / "more.parquet"
    pq.write_table(pa.table({"id": pa.array([2], pa.int32()), "amount": pa.array([7]),
                             "note": pa.array([42])}), path)
    out = shelf.ingest(path)
    assert out.version == 1 and out.added_columns == []
    assert sorted_rows(shelf.data(), "id")[1] == {"id": 2, "amount": 7.0, "note": "42"}


# ------------------------------------------------------------------- versions and schemas


def test_append_adds_a_version_and_rows(shelf: Shelf) -> None:
    shelf.table()
    assert shelf.ingest(POWER_CSV).version == 0
    out = shelf.ingest(POWER_CSV, mode="append")
    assert (out.version, out.rows) == (1, 3)
    assert (shelf.row().current_version, shelf.row().row_count) == (1, 6)
    assert shelf.data().num_rows == 6
    assert shelf.events() == 2


def test_overwrite_replaces_the_rows(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest(POWER_CSV)
    out = shelf.ingest("企业名称,月份,用电量,单价,day\n唯一公司,5,1,0.1,2024-05-31\n",
                       mode="overwrite")
    assert (out.version, out.rows, out.mode) == (1, 1, "overwrite")
    assert shelf.row().row_count == 1
    assert shelf.data().column("企业名称").to_pylist() == ["唯一公司"]
    old = DeltaTable(str(shelf.delta_dir()), version=0).to_pyarrow_table()
    assert old.num_rows == 3  # time travel still reaches the replaced version


def test_new_columns_are_added_and_missing_ones_are_null(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest("id,name\n1,甲\n")
    out = shelf.ingest("id,地区,score\n2,浙江,9.5\n")
    assert out.added_columns == ["地区", "score"]
    assert [(c.name, c.type) for c in out.columns] == [
        ("id", "long"), ("name", "string"), ("地区", "string"), ("score", "double")]
    assert sorted_rows(shelf.data(), "id") == [
        {"id": 1, "name": "甲", "地区": None, "score": None},
        {"id": 2, "name": None, "地区": "浙江", "score": 9.5}]
    assert shelf.row().schema_json == [c.model_dump() for c in out.columns]


def test_csv_values_are_read_as_the_table_types(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest("code,amount\nA01,1.5\n")
    # Alone these would be read as long and long; the table says string and double.
    out = shelf.ingest("code,amount\n0042,3\n")
    assert [c.type for c in out.columns] == ["string", "double"]
    assert sorted_rows(shelf.data(), "code")[0] == {"code": "0042", "amount": 3.0}


def test_partitioned_table(shelf: Shelf) -> None:
    shelf.table(partition_by=["地区"])
    shelf.ingest("地区,用电量\n浙江 杭州,1\n江苏,2\n浙江 杭州,3\n")
    assert DeltaTable(str(shelf.delta_dir())).metadata().partition_columns == ["地区"]
    assert sorted(shelf.data().column("用电量").to_pylist()) == [1, 2, 3]
    shelf.ingest("地区,用电量\n上海,4\n")
    assert shelf.data().num_rows == 4


def test_table_without_its_partition_column_is_refused(shelf: Shelf) -> None:
    shelf.table(partition_by=["region"])
    before = shelf.snapshot()
    assert shelf.refused(POWER_CSV).code == "partition_column_missing"
    assert shelf.snapshot() == before


# ---------------------------------------------------------------------------- refusals


def _late_bad_utf8() -> bytes:
    good = "编号,名称\n" + "".join(f"{i},浙江省杭州市{i}\n" for i in range(60_000))
    return good.encode() + b"60001,\xb2\xe2\xca\xd4\n"  # GBK bytes well past the sniffed head


REFUSALS = {
    "empty": (b"", {}, 400, "empty_file"),
    "blank": (b"\n \r\n", {}, 400, "empty_file"),
    "header only": (b"a,b\n", {}, 400, "empty_file"),
    "binary": (bytes(range(256)) * 8, {}, 400, "not_csv"),
    "binary declared csv": (b"PAR1\x00\x01\x02" * 10, {"format": "csv"}, 400, "not_csv"),
    "wrong encoding": (POWER_CSV.encode("gbk"), {"encoding": "utf-8"}, 400, "encoding_error"),
    "unknown encoding": (b"a\n1\n", {"encoding": "klingon"}, 400, "encoding_error"),
    "bad utf-8 late": (_late_bad_utf8(), {}, 400, "encoding_error"),
    "utf-16": ("a,b\n1,2\n".encode("utf-16"), {}, 400, "encoding_error"),
    "ragged": (b"a,b,c\n1,2,3\n4,5\n6,7,8\n", {}, 422, "ragged_rows"),
    "zip": (b"PK\x03\x04" + b"\x00" * 50, {}, 415, "unsupported_format"),
    "not parquet": (POWER_CSV.encode(), {"format": "parquet"}, 415, "unsupported_format"),
    "corrupt parquet": (b"PAR1" + b"\x07" * 100 + b"PAR1", {}, 400, "corrupt_file"),
    "duplicate names": (b"a,b,a\n1,2,3\n", {}, 400, "duplicate_column"),
    "bad delimiter": (b"a,b\n1,2\n", {"delimiter": "::"}, 422, "invalid_delimiter"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_bad_input_is_refused_and_nothing_written(shelf: Shelf, case: str) -> None:
    data, options, status, code = REFUSALS[case]
    shelf.table()
    shelf.ingest("a,b,c\n1,2,3\n")
    before = shelf.snapshot()
    error = shelf.refused(shelf.file(data), **options)
    assert (error.status, error.code) == (status, code), error.message
    assert shelf.snapshot() == before


def test_first_ingest_refused_leaves_no_table(shelf: Shelf) -> None:
    shelf.table()
    assert shelf.refused(b"a,b,c\n1,2,3\n4,5\n").code == "ragged_rows"
    assert shelf.row().current_version is None
    assert not shelf.delta_dir().exists()


def test_ragged_row_is_named_by_line(shelf: Shelf) -> None:
    shelf.table()
    error = shelf.refused("名称,数量\n甲,1\n乙,2\n丙,3,多余\n丁,4\n".encode("gbk"))
    assert error.code == "ragged_rows"
    assert error.details["line"] == 4
    assert "line 4" in error.message


def test_late_bad_utf8_names_the_line(shelf: Shelf) -> None:
    shelf.table()
    error = shelf.refused(_late_bad_utf8())
    assert error.details["line"] == 60_002
    assert "gb18030" in error.message


def test_type_change_deep_in_a_new_file_names_the_column(shelf: Shelf) -> None:
    # New tables take their types from the first block (16 MB); a later misfit is refused.
    shelf.table()
    rows = b"12345678901234,1\n" * 1_100_000
    error = shelf.refused(b"code,n\n" + rows + b"A12345678901234,2\n")
    assert error.code == "csv_parse_error"
    assert error.details["column"] == "code"
    assert not shelf.delta_dir().exists()  # the blocks already written were removed


SCHEMA_CONFLICTS = {
    "text into long": ("id,name\nx01,甲\n", "id", "long"),
    "decimal text into long": ("id,name\n1.5,甲\n", "id", "long"),
    "text into date": ("id,day\n1,昨天\n", "day", "date"),
}


@pytest.mark.parametrize("case", SCHEMA_CONFLICTS, ids=list(SCHEMA_CONFLICTS))
def test_csv_schema_conflict_names_the_column(shelf: Shelf, case: str) -> None:
    data, column, existing = SCHEMA_CONFLICTS[case]
    shelf.table()
    shelf.ingest("id,name,day\n1,甲,2024-01-01\n")
    before = shelf.snapshot()
    error = shelf.refused(data)
    assert (error.status, error.code) == (409, "schema_conflict")
    assert (error.details["column"], error.details["existing_type"]) == (column, existing)
    assert column in error.message and existing in error.message
    assert shelf.snapshot() == before


@pytest.mark.parametrize(("values", "incoming"), [
    (pa.array(["x"]), "string"), (pa.array([1.5]), "double"), (pa.array([[1]]), "array<long>")])
def test_parquet_schema_conflict_names_both_types(shelf: Shelf, values: pa.Array,
                                                  incoming: str) -> None:
    shelf.table()
    shelf.ingest("id,name\n1,甲\n")
    before = shelf.snapshot()
    path = shelf.tmp / "bad.parquet"
    pq.write_table(pa.table({"id": values}), path)
    error = shelf.refused(path)
    assert error.code == "schema_conflict"
    assert error.details == {"column": "id", "existing_type": "long", "incoming_type": incoming}
    assert shelf.snapshot() == before


def test_other_organisation_is_refused(shelf: Shelf) -> None:
    shelf.table()
    intruder = make_provider(shelf.ex, slug="other-product")
    before = shelf.snapshot()
    error = shelf.refused(POWER_CSV, who=intruder)
    assert (error.status, error.code) == (403, "not_product_owner")
    assert shelf.snapshot() == before


# ---------------------------------------------------------------- crashes and concurrency


def test_orphaned_commit_of_a_killed_ingest_never_becomes_visible(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest("id,who\n1,kept\n")
    # What a process killed between its Delta commit and its database commit leaves.
    write_deltalake(str(shelf.delta_dir()), pa.table({"id": [666], "who": ["orphan"]}),
                    mode="append")
    assert shelf.row().current_version == 0
    out = shelf.ingest("id,who\n2,new\n")
    assert out.version == 1
    table = DeltaTable(str(shelf.delta_dir()))
    assert table.version() == 1
    assert sorted(table.to_pyarrow_table().column("who").to_pylist()) == ["kept", "new"]
    # Nor through time travel or the change feed, and its file is gone.
    history = [DeltaTable(str(shelf.delta_dir()), version=v).to_pyarrow_table() for v in (0, 1)]
    assert all("orphan" not in t.column("who").to_pylist() for t in history)
    feed = pa.table(table.load_cdf(starting_version=0))
    assert "orphan" not in feed.column("who").to_pylist()
    live = set(table.get_add_actions(flatten=True).column("path").to_pylist())
    on_disk = {p.name for p in shelf.delta_dir().glob("*.parquet")}
    assert on_disk == live


def test_orphaned_commit_with_a_checkpoint_is_cut_off_too(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest("id\n1\n")
    where = str(shelf.delta_dir())
    write_deltalake(where, pa.table({"id": [666]}), mode="append")
    DeltaTable(where).create_checkpoint()  # a checkpoint of the orphaned version 1
    assert (shelf.delta_dir() / "_delta_log" / "_last_checkpoint").exists()
    assert shelf.ingest("id\n2\n").version == 1
    assert sorted(DeltaTable(where).to_pyarrow_table().column("id").to_pylist()) == [1, 2]
    assert not list((shelf.delta_dir() / "_delta_log").glob("*.checkpoint.parquet"))


def test_orphaned_first_version_is_discarded(shelf: Shelf) -> None:
    shelf.table()
    write_deltalake(str(shelf.delta_dir()), pa.table({"x": ["orphan"]}))
    out = shelf.ingest("id\n1\n")
    assert out.version == 0 and [c.name for c in out.columns] == ["id"]
    assert shelf.data().to_pylist() == [{"id": 1}]


def test_concurrent_ingests_into_one_table_are_serialised(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest("id,n\n0,0\n")
    results: list[object] = []

    def run(i: int) -> None:
        try:
            results.append(shelf.ingest(shelf.file("id,n\n" + f"{i},{i}\n" * 500, f"{i}.csv")))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    versions = sorted(r.version for r in results)  # type: ignore[union-attr]
    assert versions == [1, 2, 3]
    assert (shelf.row().current_version, shelf.row().row_count) == (3, 1501)
    assert shelf.data().num_rows == 1501


def test_change_made_behind_our_back_is_a_409(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest("id\n1\n")
    table_id = shelf.row().id

    def meddle(_done: int) -> None:  # another node publishes a version meanwhile
        with shelf.ex.transaction() as s:
            s.execute(update(DataTable).where(DataTable.id == table_id)
                      .values(current_version=7))

    path = shelf.file("id\n2\n")
    with pytest.raises(ShuguError) as info:
        ingest_file(shelf.ex, shelf.who, shelf.slug, "t", path, mode="append",
                    options=IngestOptions(), source_name=None, progress=meddle)
    assert (info.value.status, info.value.code) == (409, "concurrent_ingest")
    assert shelf.events() == 1
    with shelf.ex.transaction() as s:  # put it back: the orphaned commit must go away
        s.execute(update(DataTable).where(DataTable.id == table_id).values(current_version=0))
    out = shelf.ingest("id\n3\n")
    assert out.version == 1
    assert sorted(shelf.data().column("id").to_pylist()) == [1, 3]


def test_csv_written_by_pyarrow_round_trips(shelf: Shelf) -> None:
    shelf.table()
    source = pa.table({"n": list(range(1000)), "s": [f"第{i}行" for i in range(1000)]})
    sink = io.BytesIO()
    pacsv.write_csv(source, sink)
    assert shelf.ingest(sink.getvalue()).rows == 1000
    assert shelf.data().sort_by("n").equals(source)
