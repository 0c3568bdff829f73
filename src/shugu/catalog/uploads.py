"""Receiving an upload: streamed to a private file under the data dir, size-limited.

Every upload file is locked (flock) by the process receiving it for as long as the file
lives. A process killed mid-upload or mid-ingest releases its locks with its death, so at
start `sweep` deletes exactly the files nobody holds any more — never the live upload of
another server process sharing the data dir. A client that disconnects mid-upload gets its
file deleted at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from shugu.errors import InvalidInput, TooLarge

if TYPE_CHECKING:
    from starlette.requests import Request

log = logging.getLogger("shugu.uploads")
PREFIX = "upload-"
SUFFIX = ".part"

_held: dict[Path, int] = {}  # upload file -> the descriptor holding its lock
_held_lock = threading.Lock()


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"upload exceeds the configured limit of {limit} bytes "
                    "(SHUGU_MAX_UPLOAD_BYTES)", limit=limit)


def _create(uploads_dir: Path) -> tuple[Path, int]:
    """A new, empty upload file, locked by this process."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    while True:
        path = uploads_dir / f"{PREFIX}{os.getpid()}-{secrets.token_hex(8)}{SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        # A sweep in another process may have locked and deleted the file between our
        # create and our lock; then the name is gone and we start again.
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    with _held_lock:
        _held[path] = fd
    return path, fd


async def receive(
    chunks: AsyncIterator[bytes], uploads_dir: Path, limit: int, declared: int | None
) -> Path:
    """Write the body to a new file and return its path; nothing is left behind on failure
    (too large, empty, or the client gone). The caller must `discard` the path when done."""
    if declared is not None and declared > limit:
        raise _too_large(limit)
    path, fd = _create(uploads_dir)
    size = 0
    try:
        with os.fdopen(os.dup(fd), "wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                fh.write(chunk)
    except BaseException:  # including the client disconnecting (ClientDisconnect)
        discard(path)
        raise
    if size == 0:
        discard(path)
        raise InvalidInput("the upload is empty", code="empty_file")
    return path


def discard(path: Path) -> None:
    """Delete an upload file and release its lock."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    with _held_lock:
        fd = _held.pop(path, None)
    if fd is not None:
        os.close(fd)


def sweep(uploads_dir: Path) -> list[str]:
    """Delete the upload files no live process holds (left by a killed server); their names.

    Safe while other server processes share the data dir: their live uploads stay locked.
    """
    removed: list[str] = []
    if not uploads_dir.is_dir():
        return removed
    for entry in uploads_dir.iterdir():
        if not entry.is_file() or entry in _held:
            continue
        try:
            fd = os.open(entry, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live upload of another process
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed.append(entry.name)
        finally:
            os.close(fd)
    if removed:
        log.warning("removed %d upload file(s) left by an interrupted upload or ingest",
                    len(removed))
    return removed


async def receive_request(request: Request, uploads_dir: Path, limit: int) -> Path:
    """The request's raw body as a file (see receive): what the API's ingest and the
    portal's upload both use, so the size limit is applied the same way."""
    declared = request.headers.get("content-length")
    return await receive(request.stream(), uploads_dir, limit,
                         int(declared) if declared and declared.isdigit() else None)
