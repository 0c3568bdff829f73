"""CSV rules and bad input, through the ingest service on SQLite and PostgreSQL.

Every refusal is checked for its status and stable code, for naming the line where it can,
and for leaving the table exactly as it was (version, rows, schema, ledger, files). The
rules themselves (empty is null, null markers, quoting, wide files) are compared with what
the same rows give through Parquet.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shugu.catalog.ingest.options import IngestOptions
from shugu.config import Settings
from tests.catalog.test_ingest_service import Shelf, make_provider

MAX_COLUMNS = 50  # this module's exchange takes at most this many columns per table


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, max_columns=MAX_COLUMNS)


@pytest.fixture
def shelf(exchange, tmp_path: Path) -> Shelf:  # type: ignore[no-untyped-def]
    return Shelf(exchange, make_provider(exchange), tmp_path)


MB = 1 << 20
BIG = "长" * (MB // 3 + 1)  # a field of over 1 MB of UTF-8
WIDE = MAX_COLUMNS + 1


def _wide(n: int) -> str:
    return ",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("1" for _ in range(n)) + "\n"


# case: (file, options, status, code, line)  -- line None: not applicable
REFUSED: dict[str, tuple[bytes, dict[str, object], int, str, int | None]] = {
    # delimiters: checked before the file is read
    "NUL delimiter": (b"a,b\n1,2\n", {"delimiter": "\x00"}, 422, "invalid_delimiter", None),
    "empty delimiter": (b"a,b\n1,2\n", {"delimiter": ""}, 422, "invalid_delimiter", None),
    "two-char delimiter": (b"a,b\n1,2\n", {"delimiter": "::"}, 422, "invalid_delimiter", None),
    "newline delimiter": (b"a,b\n1,2\n", {"delimiter": "\n"}, 422, "invalid_delimiter", None),
    "CR delimiter": (b"a,b\n1,2\n", {"delimiter": "\r"}, 422, "invalid_delimiter", None),
    "quote delimiter": (b"a,b\n1,2\n", {"delimiter": '"'}, 422, "invalid_delimiter", None),
    "letter delimiter": (b"a,b\n1,2\n", {"delimiter": "x"}, 422, "invalid_delimiter", None),
    "full-width comma": (b"a,b\n1,2\n", {"delimiter": "，"}, 422, "invalid_delimiter", None),
    "DEL delimiter": (b"a,b\n1,2\n", {"delimiter": "\x7f"}, 422, "invalid_delimiter", None),
    # null markers
    "newline marker": (b"a,b\n1,2\n", {"null_values": ["N\nA"]}, 422, "invalid_null_values",
                       None),
    "delimiter in marker": (b"a;b\n1;2\n", {"delimiter": ";", "null_values": ["a;b"]}, 422,
                            "invalid_null_values", None),
    "too many markers": (b"a,b\n1,2\n", {"null_values": [str(i) for i in range(21)]}, 422,
                         "invalid_null_values", None),
    "long marker": (b"a,b\n1,2\n", {"null_values": ["x" * 51]}, 422, "invalid_null_values",
                    None),
    # quoting
    "unterminated quote swallowing to the end": (
        b"a,b,c\n1,2,kept\n3,4,\"open\n5,6,x\n7,8,y\n", {}, 422, "malformed_quote", 3),
    "quote closed by a later field's quote": (
        b"a,b,c\n1,2,kept\n3,4,\"open\n5,6,\"x\"\n7,8,y\n", {}, 422, "malformed_quote", 4),
    "unterminated quote in a number column": (
        b"a,b\n1,kept\n\"2,x\n3,y\n", {}, 422, "malformed_quote", 3),
    "unterminated quote after a 1 MB field": (
        ("a,b,c\n1,2," + BIG + "\n3,4,\"open\n5,6,z\n").encode(), {}, 422, "malformed_quote",
        3),
    "text after a closing quote, multi-line file": (
        b"a,b\n1,\"two\nlines\"\n2,\"ab\"cd\n", {}, 422, "malformed_quote", 4),
    # ragged rows
    "too many fields": (b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n", {}, 422, "ragged_rows", 3),
    "too few fields": (b"a,b,c\n1,2,3\n4,5\n8,9,10\n", {}, 422, "ragged_rows", 3),
    "ragged with CRLF": (b"a,b,c\r\n1,2,3\r\n4,5\r\n", {}, 422, "ragged_rows", 3),
    # encodings and emptiness
    "GBK declared UTF-8": ("名称,值\n甲,1\n".encode("gbk"), {"encoding": "utf-8"}, 400,
                           "encoding_error", None),
    "UTF-16": ("a,b\n1,2\n".encode("utf-16"), {}, 400, "encoding_error", None),
    "not a text encoding": (b"a,b\n1,2\n", {"encoding": "base64"}, 400, "encoding_error",
                            None),
    "codec that only fails": (b"a,b\n1,2\n", {"encoding": "undefined"}, 400,
                              "encoding_error", None),
    "NUL in encoding name": (b"a,b\n1,2\n", {"encoding": "utf\x008"}, 400, "encoding_error",
                             None),
    "NUL byte in the text": (b"a,b\n1,x\x00y\n", {}, 400, "not_csv", None),
    "neither UTF-8 nor GB18030": (b"a,b\n1,\xff\xfe\xfa\n", {}, 400, "not_csv", None),
    "empty file": (b"", {}, 400, "empty_file", None),
    "BOM only": (codecs.BOM_UTF8, {}, 400, "empty_file", None),
    "blank lines": (b"\r\n\r\n  \n", {}, 400, "empty_file", None),
    "header only": (b"a,b,c\n", {}, 400, "empty_file", None),
    "header only with BOM and CRLF": (codecs.BOM_UTF8 + b"a,b,c\r\n", {}, 400, "empty_file",
                                      None),
    # sizes
    "too many columns": (_wide(WIDE).encode(), {}, 422, "too_many_columns", None),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_bad_csv_is_refused_and_the_table_is_untouched(shelf: Shelf, case: str) -> None:
    data, options, status, code, line = REFUSED[case]
    shelf.table()
    shelf.ingest("a,b,c\n1,2,kept\n")
    before = shelf.snapshot()
    error = shelf.refused(shelf.file(data), **options)
    assert (error.status, error.code) == (status, code), error.message
    if line is not None:
        assert error.details["line"] == line, error.message
        assert f"line {line}" in error.message
    assert shelf.snapshot() == before  # same Delta version, rows, schema, ledger, files
    assert shelf.data().column("c").to_pylist() == ["kept"]
    # And the table still takes good data.
    assert shelf.ingest("a,b,c\n9,9,later\n").version == 1


def test_refused_first_ingest_leaves_no_table(shelf: Shelf) -> None:
    shelf.table()
    error = shelf.refused(b"a,b\n1,\"open\n2,x\n")
    assert error.code == "malformed_quote"
    assert shelf.row().current_version is None
    assert not shelf.delta_dir().exists()


# ----------------------------------------------------------------------- what is accepted


TYPES_CSV = ("t,n,x,d,ts,ok\n"
             "甲,1,1.5,2024-01-01,2024-01-01 08:00:00,true\n"
             ",,,,,\n"
             '"",2,"",2024-01-02,"",false\n')


def test_an_empty_cell_is_null_in_every_type_as_parquet_says(shelf: Shelf) -> None:
    shelf.table("by_csv")
    shelf.table("by_parquet")
    out = shelf.ingest(TYPES_CSV, "by_csv")
    assert [c.type for c in out.columns] == [
        "string", "long", "double", "date", "timestamp_ntz", "boolean"]
    csv_rows = shelf.data("by_csv")
    assert csv_rows.column("t").to_pylist() == ["甲", None, None]  # quoted "" is null too
    assert csv_rows.column("n").to_pylist() == [1, None, 2]
    assert csv_rows.column("ts").null_count == 2
    path = shelf.tmp / "same.parquet"
    pq.write_table(csv_rows.cast(csv_rows.schema), path)
    shelf.ingest(path, "by_parquet")
    assert shelf.data("by_parquet").equals(csv_rows)
    # Into an existing table too: text cells stay null, not ''.
    shelf.ingest("t,n\n,3\n", "by_csv")
    assert shelf.data("by_csv").column("t").to_pylist()[-1] is None


def test_null_markers_are_configurable(shelf: Shelf) -> None:
    shelf.table()
    data = "name,n\nNA,1\n\\N,NA\n,\\N\nnull,2\n"
    out = shelf.ingest(data, null_values=["", "NA", "\\N"])
    assert [c.type for c in out.columns] == ["string", "long"]
    assert shelf.data().to_pylist() == [
        {"name": None, "n": 1}, {"name": None, "n": None}, {"name": None, "n": None},
        {"name": "null", "n": 2}]


def test_by_default_only_the_empty_cell_is_null(shelf: Shelf) -> None:
    shelf.table()
    out = shelf.ingest("name,code\nNA,NULL\nnull,N/A\n,nan\n")
    assert [c.type for c in out.columns] == ["string", "string"]
    assert shelf.data().to_pylist() == [
        {"name": "NA", "code": "NULL"}, {"name": "null", "code": "N/A"},
        {"name": None, "code": "nan"}]


def test_without_the_empty_marker_text_keeps_empty_strings(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest("name,n\n,1\n\\N,2\n", null_values=["\\N"])  # a MySQL-style export
    assert shelf.data().to_pylist() == [{"name": "", "n": 1}, {"name": None, "n": 2}]


def test_bom_crlf_and_a_1mb_field(shelf: Shelf) -> None:
    shelf.table()
    data = codecs.BOM_UTF8 + f"名称,长文本\r\n甲,\"{BIG}\"\r\n乙,短\r\n".encode()
    out = shelf.ingest(data)
    assert [c.name for c in out.columns] == ["名称", "长文本"]
    assert out.rows == 2
    rows = {r["名称"]: r["长文本"] for r in shelf.data().to_pylist()}
    assert rows == {"甲": BIG, "乙": "短"}  # no stray \r, no BOM


def test_legitimate_multi_line_values_pass_the_quote_check(shelf: Shelf) -> None:
    shelf.table()
    data = ('id,地址,备注\n1,"浙江省杭州市\r\n西湖区","他说""好"""\n'
            '2,上海,"5"" screen"\n3,x,5" screen\n')
    assert shelf.ingest(data).rows == 3
    rows = sorted(shelf.data().to_pylist(), key=lambda r: r["id"])
    assert rows[0] == {"id": 1, "地址": "浙江省杭州市\r\n西湖区", "备注": '他说"好"'}
    assert rows[2]["备注"] == '5" screen'  # a quote inside an unquoted field is text


def test_columns_up_to_the_limit_are_fine_and_the_table_cannot_grow_past_it(
        shelf: Shelf) -> None:
    shelf.table()
    assert len(shelf.ingest(_wide(MAX_COLUMNS)).columns) == MAX_COLUMNS
    before = shelf.snapshot()
    # Same width, one new column: the table would hold MAX_COLUMNS + 1.
    names = [f"c{i}" for i in range(1, MAX_COLUMNS)] + ["new"]
    error = shelf.refused(",".join(names) + "\n" + ",".join("2" for _ in names) + "\n")
    assert (error.status, error.code) == (422, "too_many_columns")
    assert shelf.snapshot() == before


def test_wide_parquet_is_refused_too(shelf: Shelf) -> None:
    shelf.table()
    path = shelf.tmp / "wide.parquet"
    pq.write_table(pa.table({f"c{i}": [i] for i in range(WIDE)}), path)
    error = shelf.refused(path)
    assert (error.status, error.code) == (422, "too_many_columns")
    assert shelf.row().current_version is None


def test_options_are_normalised() -> None:
    assert IngestOptions(delimiter="tab").checked().delimiter == "\t"
    assert IngestOptions(delimiter="\\t").checked().delimiter == "\t"
    assert IngestOptions(null_values=["NA", "NA", ""]).checked().null_values == ["NA", ""]
    assert IngestOptions().nulls() == [""]


@pytest.mark.parametrize(("text", "lines"), [
    (b"a,b\n1,2\n", 2), (b"a,b\n1,2", 2), (b"a,b\r\n1,2\r\n\r\n\r\n", 2), (b"a\n\n1\n", 3),
    (b'a\n"x\ny"\n', 3), (b"\n" * 300 + b"a\n", 301), (b"a,b\n" + b"\n" * 300, 1),
    (b"a,b\n" + b"\n" * 10_000, 1), (b"a\n" + b"1\n" * 3000 + b"\r\n" * 5000, 3001),
    (b"x" * 5000 + b"\n" * 5000 + b"y", 5001)])
@pytest.mark.parametrize("read_size", [7, 4000, 9000, 8 << 20])
def test_the_stream_counts_lines_cheaply(tmp_path: Path, text: bytes, lines: int,
                                         read_size: int) -> None:
    from shugu.catalog.ingest.source import SourceStream

    path = tmp_path / "f.csv"
    path.write_bytes(text)
    with SourceStream(path, encoding="utf-8") as stream:
        while stream.read(read_size):
            pass
        assert stream.lines() == lines


def test_blank_lines_inside_and_at_the_end_are_skipped(shelf: Shelf) -> None:
    shelf.table()
    out = shelf.ingest("a,b\n1,x\n\n2,y\n\n\n")
    assert out.rows == 2
    assert shelf.data().column("b").to_pylist() == ["x", "y"]


def test_text_after_a_closing_quote_within_its_line_is_kept(shelf: Shelf) -> None:
    shelf.table()
    shelf.ingest('a,b\n1,"ab"cd\n2,x\n')
    assert shelf.data().column("b").to_pylist() == ["abcd", "x"]
