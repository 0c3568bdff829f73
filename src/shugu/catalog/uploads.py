"""Receiving an upload: streamed to a private file under the data dir, size-limited."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from shugu.errors import InvalidInput, TooLarge

if TYPE_CHECKING:
    from starlette.requests import Request


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"upload exceeds the configured limit of {limit} bytes "
                    "(SHUGU_MAX_UPLOAD_BYTES)", limit=limit)


async def receive(
    chunks: AsyncIterator[bytes], uploads_dir: Path, limit: int, declared: int | None
) -> Path:
    """Write the body to a new file and return its path; nothing is left behind on failure."""
    if declared is not None and declared > limit:
        raise _too_large(limit)
    uploads_dir.mkdir(parents=True, exist_ok=True)
    path = uploads_dir / f"upload-{secrets.token_hex(8)}"
    size = 0
    try:
        with open(path, "wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                fh.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise InvalidInput("the upload is empty", code="empty_file")
    return path


def discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


async def receive_request(request: Request, uploads_dir: Path, limit: int) -> Path:
    """The request's raw body as a file (see receive): what the API's ingest and the
    portal's upload both use, so the size limit is applied the same way."""
    declared = request.headers.get("content-length")
    return await receive(request.stream(), uploads_dir, limit,
                         int(declared) if declared and declared.isdigit() else None)
