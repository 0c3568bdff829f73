"""Reading the upload once: SHA-256, byte count and progress as it streams past.

For CSV the stream also refuses NUL bytes and hands pyarrow valid UTF-8 whatever the
source encoding, so that bad text is reported with its byte offset and line instead of
surfacing as an obscure conversion error deep inside the parser.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shugu.catalog.ingest import errors

Progress = Callable[[int], None]
CHUNK = 8 << 20


def line_of(path: Path, offset: int) -> int:
    """1-based line number of a byte offset (error path only: it rereads the file)."""
    lines = 1
    with open(path, "rb") as fh:
        remaining = offset
        while remaining > 0:
            chunk = fh.read(min(CHUNK, remaining))
            if not chunk:
                break
            lines += chunk.count(b"\n")
            remaining -= len(chunk)
    return lines


class SourceStream:
    """A sequential, read-only file object over the upload, for pyarrow to pull from.

    `encoding=None` passes bytes through untouched (Parquet, Arrow); otherwise the text is
    checked (UTF-8) or transcoded (anything else) and always leaves as UTF-8 without BOM.
    pyarrow swallows exceptions raised here into its own, so the first one is kept in
    `failure` for the caller to raise instead.
    """

    def __init__(self, path: Path, *, encoding: str | None = None,
                 progress: Progress | None = None) -> None:
        self.path = path
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0
        self.failure: BaseException | None = None
        self.closed = False
        self._progress = progress
        self._encoding = encoding
        self._decoder: Any = None
        self._transcode = False
        self._skip_bom = False
        self._pending = b""
        self.newlines = 0  # b"\n" in the text handed out (memchr-fast, unlike parsing)
        self._trailing = 0  # of those, the ones in the run of line ends the text ends with
        self._body = False  # any other character yet?
        if encoding is not None:
            self._skip_bom = encoding == "utf-8-sig"
            base = "utf-8" if self._skip_bom else encoding
            self._decoder = codecs.getincrementaldecoder(base)()
            self._transcode = base != "utf-8"

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        try:
            return self._read(CHUNK if size is None or size < 0 else max(size, 1))
        except BaseException as exc:
            if self.failure is None:
                self.failure = exc
            raise

    def _read(self, size: int) -> bytes:
        while True:
            if self._pending:
                out, self._pending = self._pending[:size], self._pending[size:]
                return out
            start = self.bytes_read
            raw = self._file.read(size)
            self.sha256.update(raw)
            self.bytes_read += len(raw)
            if self._progress is not None and raw:
                self._progress(self.bytes_read)
            if self._decoder is None:
                return raw
            data = self._decode(raw, start)
            if data or not raw:
                if len(data) > size:  # transcoding can grow the text (GBK 2 bytes -> 3)
                    self._pending = data[size:]
                    data = data[:size]
                return data

    def _decode(self, raw: bytes, start: int) -> bytes:
        held = len(self._decoder.getstate()[0])  # bytes of a character split across reads
        try:
            text = self._decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            offset = max(start - held + exc.start, 0)
            name = "UTF-8" if self._encoding in ("utf-8", "utf-8-sig") else self._encoding
            hint = ("; if the file is GBK/GB18030, pass encoding=gb18030"
                    if name == "UTF-8" else "")
            line = line_of(self.path, offset)
            raise errors.encoding_error(
                f"the file is not valid {name} at byte {offset} (line {line}){hint}",
                encoding=self._encoding, offset=offset, line=line) from None
        except UnicodeError as exc:  # codecs that fail without a position
            raise errors.encoding_error(f"the file cannot be read as {self._encoding}: {exc}",
                                        encoding=self._encoding) from None
        data = text.encode("utf-8") if self._transcode else raw
        if self._skip_bom and start == 0:
            data = data.removeprefix(codecs.BOM_UTF8)
        if b"\x00" in data:
            offset = start + data.index(b"\x00")
            raise errors.not_csv(f"the file holds binary data (a NUL byte near byte {offset}), "
                                 "not CSV text", offset=offset)
        if data:
            count = data.count(b"\n")
            self.newlines += count
            # Where the text's final run of line ends starts; only the end is copied.
            end = data[-4096:].rstrip(b"\r\n")
            body = len(data) - min(len(data), 4096) + len(end) if end else len(
                data.rstrip(b"\r\n"))
            if body:
                self._body = True
                self._trailing = data.count(b"\n", body)
            else:
                self._trailing += count
        return data

    def lines(self) -> int:
        """Lines of the text read so far, not counting blank lines at its end."""
        return self.newlines - self._trailing + (1 if self._body else 0)

    def drain(self) -> None:
        """Hash whatever the parser did not need to read (nothing, for a well-formed file)."""
        while chunk := self._file.read(CHUNK):
            self.sha256.update(chunk)
            self.bytes_read += len(chunk)

    def close(self) -> None:
        self.closed = True
        self._file.close()

    def __enter__(self) -> SourceStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a file; hashlib releases the GIL, so this runs well in a thread."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
