"""Serving one data file: exact Content-Length, single byte ranges answered 206.

Readers such as fsspec (the official Python client) and the Spark connector ask the size
with HEAD and read with `Range: bytes=a-b`; a 200 with the whole body to a ranged request is
an error for them, and so is any Content-Encoding.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
from starlette.responses import Response, StreamingResponse

from shugu.errors import NotFound, ShuguError

CHUNK = 1 << 20


class RangeNotSatisfiable(ShuguError):
    status = 416
    code = "range_not_satisfiable"


@dataclass(frozen=True)
class Span:
    start: int
    length: int
    partial: bool


def span(range_header: str | None, size: int) -> Span:
    """The bytes to send. Multiple ranges are answered with the whole file (RFC 9110 lets a
    server ignore Range); a malformed header likewise."""
    whole = Span(0, size, False)
    if not range_header:
        return whole
    unit, _, spec = range_header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return whole
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return whole
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise RangeNotSatisfiable(f"range {spec} is empty")
            start, end = max(size - n, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
    except ValueError:
        return whole
    if start < 0 or start >= size or end < start:
        raise RangeNotSatisfiable(f"range {spec} is outside the file (size {size})",
                                  size=size)
    end = min(end, size - 1)
    return Span(start, end - start + 1, True)


def resolve(table_dir: Path, relative: str) -> Path:
    """The file under the table directory; never anything outside it."""
    root = table_dir.resolve()
    target = (root / relative).resolve()
    if root not in target.parents or not target.is_file():
        raise NotFound("the file does not exist", code="file_not_found")
    return target


def _headers(s: Span, size: int) -> dict[str, str]:
    headers = {"content-length": str(s.length), "accept-ranges": "bytes",
               "content-type": "application/octet-stream", "cache-control": "private"}
    if s.partial:
        headers["content-range"] = f"bytes {s.start}-{s.start + s.length - 1}/{size}"
    return headers


def head_response(s: Span, size: int) -> Response:
    return Response(status_code=206 if s.partial else 200, headers=_headers(s, size))


def file_response(path: Path, s: Span, size: int,
                  on_done: Callable[[int], None] | None = None) -> Response:
    """Stream the span; `on_done(bytes written)` runs at the end, also on a disconnect."""

    async def body() -> AsyncIterator[bytes]:
        fd = os.open(path, os.O_RDONLY)
        sent = 0
        try:
            offset, left = s.start, s.length
            while left > 0:
                chunk = await anyio.to_thread.run_sync(os.pread, fd, min(CHUNK, left), offset)
                if not chunk:
                    break
                offset += len(chunk)
                left -= len(chunk)
                yield chunk
                sent += len(chunk)
        finally:
            os.close(fd)
            if on_done is not None:
                # Shielded: a client that hangs up cancels the stream, not the accounting.
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(on_done, sent)

    return StreamingResponse(body(), status_code=206 if s.partial else 200,
                             headers=_headers(s, size))
