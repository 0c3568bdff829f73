"""Detection from the head of a file: format, text encoding, CSV delimiter and header."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from typing import Literal

from shugu.catalog.ingest import errors
from shugu.catalog.ingest.options import IngestOptions

Format = Literal["csv", "parquet", "arrow_file", "arrow_stream"]

HEAD_BYTES = 1 << 20  # enough text to judge the encoding of typical exports
DIALECT_CHARS = 64 * 1024  # csv.Sniffer is regex-based; keep its input small
DELIMITERS = ",\t;|"

# Formats people upload by mistake; naming them beats a confusing "not a CSV".
_FOREIGN_MAGIC = [
    (b"PK\x03\x04", "a ZIP archive (or an .xlsx workbook)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls)"),
    (b"\x1f\x8b", "a gzip file"),
    (b"BZh", "a bzip2 file"),
    (b"\xfd7zXZ\x00", "an xz file"),
    (b"(\xb5/\xfd", "a zstd file"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"%PDF", "a PDF document"),
    (b"ORC", "an ORC file"),
]


def detect_format(head: bytes, declared: str) -> Format:
    found: Format | None = None
    if head.startswith(b"PAR1"):
        found = "parquet"
    elif head.startswith(b"ARROW1"):
        found = "arrow_file"
    elif head.startswith(b"\xff\xff\xff\xff"):  # IPC stream: continuation marker first
        found = "arrow_stream"
    if declared == "csv":
        return "csv"  # trust the caller; binary content is refused later as not_csv
    if declared == "parquet" and found != "parquet":
        raise errors.UnsupportedFormat("the file is not Parquet (declared format=parquet)")
    if declared == "arrow" and found not in ("arrow_file", "arrow_stream"):
        raise errors.UnsupportedFormat("the file is not Arrow IPC (declared format=arrow)")
    if found is not None:
        return found
    for magic, what in _FOREIGN_MAGIC:
        if head.startswith(magic):
            raise errors.UnsupportedFormat(
                f"the file looks like {what}; upload CSV, Parquet or Arrow IPC")
    return "csv"


def normalise_encoding(name: str) -> str:
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        raise errors.encoding_error(f"unknown encoding {name[:40]!r}") from None
    if not getattr(info, "_is_text_encoding", True):  # base64, zlib, rot13: not text
        raise errors.encoding_error(f"{name[:40]!r} is not a text encoding")
    try:  # some codecs exist only to fail ("undefined")
        codecs.getincrementaldecoder(info.name)().decode(b"a,b\n", final=False)
    except (UnicodeError, LookupError, TypeError, ValueError):
        raise errors.encoding_error(f"{name[:40]!r} cannot decode text") from None
    return info.name


def _decodes(head: bytes, encoding: str) -> UnicodeDecodeError | None:
    # Incremental and not final: the head may end inside a multi-byte character.
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        return exc
    return None


def detect_encoding(head: bytes, declared: str | None) -> str:
    """The codec name to read the file with: utf-8, utf-8-sig, gb18030 or what was declared."""
    if declared:
        encoding = normalise_encoding(declared)
        if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        problem = _decodes(head, encoding)
        if problem is not None:
            guess = "" if encoding == "gb18030" or _decodes(head, "gb18030") else (
                "; it looks like GBK/GB18030, try encoding=gb18030")
            raise errors.encoding_error(
                f"the file is not valid {encoding} at byte {problem.start}{guess}",
                encoding=encoding, offset=problem.start)
        return encoding
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise errors.encoding_error("UTF-16 text is not supported; save the file as UTF-8")
    if b"\x00" in head:
        raise errors.not_csv("the file is binary (it contains NUL bytes), not CSV text")
    if _decodes(head, "utf-8") is None:
        return "utf-8"
    # GB18030 is a superset of GBK and GB2312, so it reads every common Chinese export.
    if _decodes(head, "gb18030") is None:
        return "gb18030"
    raise errors.not_csv("the file is neither UTF-8 nor GB18030 text; is it binary?")


@dataclass(frozen=True)
class Dialect:
    delimiter: str
    quotechar: str
    header: bool
    columns: int
    newlines_in_values: bool


def _rows(text: str, delimiter: str, quotechar: str, limit: int = 200) -> list[list[str]]:
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar)
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        pass  # a sample cut mid-field; the rows read so far still tell
    return rows


def _consistent(rows: list[list[str]]) -> bool:
    return len(rows) > 0 and len(rows[0]) > 1 and all(len(r) == len(rows[0]) for r in rows)


def _delimiter(text: str) -> tuple[str, str]:
    quotechar = '"'
    try:
        sniffed = csv.Sniffer().sniff(text, delimiters=DELIMITERS)
        if sniffed.quotechar in ("'", '"'):
            quotechar = sniffed.quotechar
        if _consistent(_rows(text, sniffed.delimiter, quotechar)):
            return sniffed.delimiter, quotechar
    except csv.Error:
        pass
    # The Sniffer guesses from character frequencies and can be fooled by punctuation in
    # values; fall back to the candidate that splits every sampled row the same way.
    best, best_width = ",", 1
    for candidate in DELIMITERS:
        rows = _rows(text, candidate, '"')
        if _consistent(rows) and len(rows[0]) > best_width:
            best, best_width = candidate, len(rows[0])
    return best, '"'


_TYPED = re.compile(
    r"^\s*[-+]?(\d[\d,]*(\.\d*)?|\.\d+)([eE][-+]?\d+)?%?\s*$"  # numbers
    r"|^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # dates and timestamps
    r"|^\s*(true|false)\s*$", re.IGNORECASE)


def _header(rows: list[list[str]]) -> bool:
    first, rest = rows[0], rows[1:]
    typed = [bool(_TYPED.match(f)) for f in first]
    # Text above a column of numbers or dates is the surest sign of a header.
    for i, is_typed in enumerate(typed):
        values = [r[i] for r in rest if i < len(r) and r[i].strip()]
        if not is_typed and first[i].strip() and values and all(_TYPED.match(v) for v in values):
            return True
    # Otherwise a first row holding numbers or dates is data: headers name things. An
    # all-text table gives no signal (csv.Sniffer.has_header then says no, wrongly for most
    # exports), so assume the header that nearly every export carries.
    return not any(typed)


def detect_dialect(text: str, options: IngestOptions) -> Dialect:
    """Delimiter, quote and header of decoded CSV text (the head of the file)."""
    sample = text[:DIALECT_CHARS]
    if len(text) > DIALECT_CHARS:
        # Drop the partial last line so it cannot look like a ragged row.
        cut = sample.rfind("\n")
        sample = sample[: cut + 1] if cut > 0 else sample
    if options.delimiter is not None:
        delimiter = options.checked().delimiter or ","
        quotechar = '"'
    else:
        delimiter, quotechar = _delimiter(sample)
    rows = _rows(sample, delimiter, quotechar)
    if not rows:
        raise errors.empty_file()
    header = options.header if options.header is not None else _header(rows)
    multiline = any("\n" in f or "\r" in f for r in rows for f in r)
    return Dialect(delimiter=delimiter, quotechar=quotechar, header=header,
                   columns=len(rows[0]), newlines_in_values=multiline)
