"""Streaming readers: CSV, Parquet and Arrow IPC as record batches, never a whole table.

Each source reports its columns first (names as in the file, arrow types as detected) so
the caller can plan the table's schema; then `batches(plan)` streams the data with every
column in its planned type, and `digest()` gives the SHA-256 and size of what was read.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from shugu.catalog.ingest import errors
from shugu.catalog.ingest.columns import Plan, clean_names, type_name
from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.ingest.sniff import (
    HEAD_BYTES,
    Dialect,
    Format,
    detect_dialect,
    detect_encoding,
    detect_format,
)
from shugu.catalog.ingest.source import Progress, SourceStream, hash_file
from shugu.errors import ShuguError

# pyarrow parses a block per thread; a few MB keeps both cores busy and memory flat.
CSV_BLOCK = 4 << 20
# Types of new CSV columns are inferred from the first block alone (streaming cannot look
# further ahead), so let that block be large.
CSV_INFER_BLOCK = 16 << 20
BATCH_ROWS = 128 * 1024


class Source:
    """An opened upload: its columns as found, then its batches, then its digest."""

    format: str  # "csv", "parquet" or "arrow", as recorded on the ingest
    encoding: str | None = None
    names: list[str]
    types: list[pa.DataType]
    parsed_as_table_types = False

    def batches(self, plan: Plan) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def digest(self) -> tuple[str, int]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def open_source(path: Path, options: IngestOptions, progress: Progress | None,
                max_columns: int) -> Source:
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if not head.strip():
        raise errors.empty_file("the file is empty")
    kind: Format = detect_format(head, options.format)
    source: Source
    if kind == "parquet":
        source = ParquetSource(path, progress)
    elif kind == "arrow_file":
        source = ArrowFileSource(path, progress)
    elif kind == "arrow_stream":
        source = ArrowStreamSource(path, progress)
    else:
        return CsvSource(path, head, options, progress, max_columns)
    if len(source.names) > max_columns:
        source.close()
        raise errors.too_many_columns(len(source.names), max_columns)
    return source


# ---------------------------------------------------------------------------------- CSV

_CONVERSION = re.compile(r"In CSV column #(\d+): .*?CSV conversion error to ([^:]+): "
                         r"invalid value '(.*)'", re.DOTALL)


class CsvSource(Source):
    format = "csv"
    parsed_as_table_types = True

    def __init__(self, path: Path, head: bytes, options: IngestOptions,
                 progress: Progress | None, max_columns: int) -> None:
        self.path = path
        self.progress = progress
        self.null_values = options.nulls()
        self.encoding = detect_encoding(head, options.encoding)
        text = head.decode(self.encoding, errors="ignore")
        if not text.strip():
            raise errors.empty_file("the file is empty")
        self.dialect: Dialect = detect_dialect(text, options)
        # Before pyarrow infers types for each of them: that is what takes time.
        if self.dialect.columns > max_columns:
            raise errors.too_many_columns(self.dialect.columns, max_columns)
        self.bad_row: Any = None
        self.stream: SourceStream | None = None
        self.column_names = (None if self.dialect.header else
                             [f"column_{i + 1}" for i in range(self.dialect.columns)])
        schema = self._peek()
        if len(schema) > max_columns:
            raise errors.too_many_columns(len(schema), max_columns)
        self.names = list(schema.names)
        self.types = list(schema.types)

    def _on_invalid_row(self, row: Any) -> str:
        if self.bad_row is None:
            self.bad_row = row
        return "error"

    def _open(self, stream: SourceStream, block: int,
              types: dict[str, pa.DataType] | None) -> pacsv.CSVStreamingReader:
        d = self.dialect
        read = pacsv.ReadOptions(block_size=block, column_names=self.column_names,
                                 use_threads=types is not None)
        parse = pacsv.ParseOptions(delimiter=d.delimiter, quote_char=d.quotechar,
                                   newlines_in_values=d.newlines_in_values,
                                   invalid_row_handler=self._on_invalid_row)
        # The stream has already checked the UTF-8, so pyarrow need not do it again. An
        # empty cell (quoted or not) or a declared marker is null in every type, text too.
        convert = pacsv.ConvertOptions(column_types=types, check_utf8=False,
                                       null_values=self.null_values, strings_can_be_null=True,
                                       quoted_strings_can_be_null=True)
        return pacsv.open_csv(stream, read_options=read, parse_options=parse,
                              convert_options=convert)

    def _peek(self) -> pa.Schema:
        """Column names and inferred types, from the first block only."""
        with SourceStream(self.path, encoding=self.encoding) as stream:
            try:
                reader = self._open(stream, CSV_INFER_BLOCK, None)
            except (pa.ArrowException, OSError) as exc:
                raise self._translate(exc, stream, None) from None
            schema = reader.schema
            reader.close()
        clean_names(list(schema.names))  # refuse duplicate names before anything else
        return schema

    def batches(self, plan: Plan) -> Iterator[pa.RecordBatch]:
        types = dict(zip(self.names, plan.read_types, strict=True))
        self.stream = stream = SourceStream(self.path, encoding=self.encoding,
                                            progress=self.progress)
        try:
            reader = self._open(stream, CSV_BLOCK, types)
            rows = 0
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                rows += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError) as exc:
            raise self._translate(exc, stream, plan) from None
        stream.drain()
        # A quote left open swallows the lines after it into one value, and pyarrow takes
        # that silently. One row per line means no value spans lines, so nothing was
        # swallowed; otherwise (values with line breaks, blank lines) the file gets a
        # strict second read that names the line of a bad quote.
        if stream.lines() != rows + (1 if self.dialect.header else 0):
            self._check_quoting()

    def _translate(self, exc: BaseException, stream: SourceStream,
                   plan: Plan | None) -> BaseException:
        if isinstance(stream.failure, ShuguError):
            return stream.failure
        if self.bad_row is not None:
            row = self.bad_row
            line = None if "\n" in row.text or "\r" in row.text else self._find_line(row.text)
            if line is None:  # a row spanning lines: an open quote, or say where it starts
                line = self._check_quoting(row.expected_columns)
            return errors.ragged_rows(line, row.expected_columns, row.actual_columns, row.text)
        message = str(exc)
        found = _CONVERSION.search(message)
        if found and ("\n" in found.group(3) or "\r" in found.group(3)):
            self._check_quoting()  # a value spanning lines: most likely an open quote
        if found:
            index, value = int(found.group(1)), found.group(3)[:200]
            column = self.names[index]
            if plan is not None and index in plan.table_typed:
                name = plan.renamed.get(column, column)
                return errors.value_conflict(name, type_name(plan.read_types[index]), value)
            return errors.csv_parse_error(
                f"column {column!r} looked like {found.group(2)} in the first rows but later "
                f"holds {value!r}; put such a value among the first rows or quote the column "
                "as text", column=column, value=value)
        if isinstance(exc, pa.ArrowNotImplementedError) and plan is not None:
            return errors.csv_parse_error(f"a column of this table cannot be read from CSV: "
                                          f"{message}")
        return errors.csv_parse_error(f"the CSV cannot be parsed: {message.splitlines()[0]}")

    def _check_quoting(self, fields: int | None = None) -> int | None:
        """Read the file with Python's strict CSV parser; a quote problem is a 422 naming
        its line (error path and files with multi-line values only: it is slower). With
        `fields`: the line where the first row of another width starts, if any."""
        d = self.dialect
        csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))  # 1 MB fields are fine
        with open(self.path, encoding=self.encoding, newline="", errors="replace") as fh:
            reader = csv.reader(fh, delimiter=d.delimiter, quotechar=d.quotechar,
                                strict=True)
            start = 1
            try:
                for row in reader:
                    if fields is not None and row and len(row) != fields:
                        return start
                    start = reader.line_num + 1
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    raise errors.malformed_quote(
                        start, "a quoted field opened on this line is never closed") from None
                raise errors.malformed_quote(
                    reader.line_num, f"text follows a closing quote ({exc})") from None
        return None

    def _find_line(self, text: str) -> int | None:
        """Line number of a row pyarrow rejected (error path only: rereads the file)."""
        wanted = text.encode(self.encoding.replace("-sig", ""), errors="replace")
        with open(self.path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if line.rstrip(b"\r\n").removeprefix(b"\xef\xbb\xbf") == wanted:
                    return number
        return None

    def digest(self) -> tuple[str, int]:
        assert self.stream is not None
        return self.stream.sha256.hexdigest(), self.stream.bytes_read

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


# ------------------------------------------------------------------------ Parquet, Arrow

class _SeekableSource(Source):
    """Formats read with random access (footers at the end): hashed in a side thread."""

    def __init__(self, path: Path, progress: Progress | None) -> None:
        self.path = path
        self.progress = progress
        self.size = path.stat().st_size
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="shugu-hash")
        self._hash: Future[tuple[str, int]] = self._pool.submit(hash_file, path)

    def _report(self, done: int, total: int) -> None:
        if self.progress is not None and total:
            self.progress(self.size * done // total)

    def digest(self) -> tuple[str, int]:
        return self._hash.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class ParquetSource(_SeekableSource):
    format = "parquet"

    def __init__(self, path: Path, progress: Progress | None) -> None:
        super().__init__(path, progress)
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            self.close()
            raise errors.corrupt_file(f"the Parquet file cannot be read: {exc}") from None
        schema = self.file.schema_arrow
        self.names, self.types = list(schema.names), list(schema.types)

    def batches(self, plan: Plan) -> Iterator[pa.RecordBatch]:
        total, done = self.file.metadata.num_rows, 0
        try:
            for batch in self.file.iter_batches(batch_size=BATCH_ROWS):
                done += batch.num_rows
                yield batch
                self._report(done, total)
        except (pa.ArrowException, OSError) as exc:
            raise errors.corrupt_file(f"the Parquet file cannot be read: {exc}") from None

    def close(self) -> None:
        super().close()
        if hasattr(self, "file"):
            self.file.close()


class ArrowFileSource(_SeekableSource):
    format = "arrow"

    def __init__(self, path: Path, progress: Progress | None) -> None:
        super().__init__(path, progress)
        # OSFile, not a memory map: batches are read one at a time and then released.
        self.file = pa.OSFile(str(path))
        try:
            self.reader = ipc.open_file(self.file)
        except (pa.ArrowException, OSError) as exc:
            self.close()
            raise errors.corrupt_file(f"the Arrow IPC file cannot be read: {exc}") from None
        self.names, self.types = list(self.reader.schema.names), list(self.reader.schema.types)

    def batches(self, plan: Plan) -> Iterator[pa.RecordBatch]:
        total = self.reader.num_record_batches
        for i in range(total):
            try:
                batch = self.reader.get_batch(i)
            except (pa.ArrowException, OSError) as exc:
                raise errors.corrupt_file(f"the Arrow IPC file cannot be read: {exc}") from None
            yield batch
            self._report(i + 1, total)

    def close(self) -> None:
        super().close()
        self.file.close()


class ArrowStreamSource(Source):
    format = "arrow"

    def __init__(self, path: Path, progress: Progress | None) -> None:
        self.stream = SourceStream(path, progress=progress)
        try:
            self.reader = ipc.open_stream(self.stream)
        except (pa.ArrowException, OSError) as exc:
            self.close()
            raise errors.corrupt_file(f"the Arrow IPC stream cannot be read: {exc}") from None
        self.names, self.types = list(self.reader.schema.names), list(self.reader.schema.types)

    def batches(self, plan: Plan) -> Iterator[pa.RecordBatch]:
        try:
            yield from self.reader
        except (pa.ArrowException, OSError) as exc:
            raise errors.corrupt_file(f"the Arrow IPC stream cannot be read: {exc}") from None
        self.stream.drain()

    def digest(self) -> tuple[str, int]:
        return self.stream.sha256.hexdigest(), self.stream.bytes_read

    def close(self) -> None:
        self.stream.close()
