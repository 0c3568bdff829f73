"""Delta tables on disk: one writer at a time, and only what the database made visible.

The database's DataTable.current_version is the truth about what consumers may see. An
ingest writes its Delta commit first and records it in the database second, so a process
killed in between leaves the Delta log ahead of the database. Before the next write we cut
the log back to the recorded version and delete the data files nobody committed, so the
orphaned rows can never surface — not in the latest snapshot, nor through time travel or
the change data feed (a Delta RESTORE would have left them readable in both).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake

from shugu.catalog.ingest.errors import StorageInconsistent

LOG = "_delta_log"
TOKEN_KEY = "shugu.ingest"
# Every table keeps a change data feed, so consumers can follow changes over Delta Sharing.
CREATE_CONFIGURATION = {"delta.enableChangeDataFeed": "true"}
# delta-rs holds a file's row groups in memory until the file is done: these bounds keep an
# ingest of incompressible data near half a gigabyte of memory (the defaults, about 1M rows
# per row group, approach 1 GB) at no cost in throughput.
TARGET_FILE_SIZE = 128 << 20
ROW_GROUP_ROWS = 256 * 1024
_VERSIONED = re.compile(r"^(\d{20})(?:\.(\d{20}))?\.")  # commits, checkpoints, compactions
_COMMIT = re.compile(r"^\d{20}\.json$")


def _sidecar(table_dir: Path, suffix: str) -> Path:
    # Next to the table, not inside it: removing a never-published table keeps its lock.
    return table_dir.parent / f".{table_dir.name}.{suffix}"


@contextlib.contextmanager
def locked(table_dir: Path) -> Iterator[None]:
    """Serialise writers of one table across threads and processes on this machine."""
    table_dir.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_sidecar(table_dir, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # flock locks belong to the open file, so two threads of one process exclude each
        # other too (POSIX record locks would not).
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.contextmanager
def locked_if_free(table_dir: Path) -> Iterator[bool]:
    """The table's lock if no one holds it (yields True), else yields False at once."""
    try:
        fd = os.open(_sidecar(table_dir, "lock"), os.O_RDWR)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def pending_tables(tables_dir: Path) -> list[Path]:
    """Table directories whose last write did not finish (a crash left its mark)."""
    marks = tables_dir.glob("*/.*.pending") if tables_dir.is_dir() else []
    return sorted(m.parent / m.name[1:-len(".pending")] for m in marks)


def mark_pending(table_dir: Path) -> None:
    """Note that a write is under way; a crash leaves the mark for the next writer to see."""
    _sidecar(table_dir, "pending").touch()


def clear_pending(table_dir: Path) -> None:
    _sidecar(table_dir, "pending").unlink(missing_ok=True)


def _log_versions(log: Path) -> dict[Path, int]:
    """Each versioned file in the log and the highest version it covers."""
    found: dict[Path, int] = {}
    for entry in log.iterdir():
        m = _VERSIONED.match(entry.name)
        if m:
            found[entry] = int(m.group(2) or m.group(1))
    return found


def reconcile(table_dir: Path, recorded: int | None) -> None:
    """Make the table on disk hold exactly the version the database recorded."""
    log = table_dir / LOG
    if recorded is None:
        # Never published: whatever is here is left over from a killed first ingest.
        if table_dir.exists():
            shutil.rmtree(table_dir)
        clear_pending(table_dir)
        return
    if not log.is_dir():
        raise StorageInconsistent(f"the Delta log of {table_dir.name!r} is missing")
    versions = _log_versions(log)
    latest = max((v for p, v in versions.items() if _COMMIT.match(p.name)), default=-1)
    if latest < recorded:
        raise StorageInconsistent(
            f"the Delta log of {table_dir.name!r} ends at version {latest} but version "
            f"{recorded} was published")
    pending = _sidecar(table_dir, "pending").exists()
    if latest > recorded:
        _truncate_log(log, recorded, versions)
        pending = True
    if pending:
        _sweep_uncommitted(table_dir, log / f"{recorded:020d}.json")
        clear_pending(table_dir)


def _truncate_log(log: Path, recorded: int, versions: dict[Path, int]) -> None:
    last_checkpoint = log / "_last_checkpoint"
    try:
        hint = int(json.loads(last_checkpoint.read_text())["version"])
    except FileNotFoundError:
        hint = None
    except (ValueError, KeyError, TypeError):
        hint = recorded + 1  # unreadable: drop it
    if hint is not None and hint > recorded:
        # Only a hint for readers; without it they list the log themselves.
        last_checkpoint.unlink()
    # Newest first, so that an interruption here still leaves a gap-free log.
    for path, version in sorted(versions.items(), key=lambda pv: -pv[1]):
        if version > recorded:
            path.unlink(missing_ok=True)
    for temp in log.glob("_commit_*"):  # delta-rs writes commits to a temp file first
        temp.unlink(missing_ok=True)


def _sweep_uncommitted(table_dir: Path, last_commit: Path) -> None:
    """Delete data files written after the last kept commit that it does not reference.

    Files of earlier versions (kept for time travel) all predate that commit; anything
    newer is from a write that never committed or whose commit was cut off.
    """
    cutoff = last_commit.stat().st_mtime_ns
    table = DeltaTable(str(table_dir))
    live = {unquote(p) for p in table.get_add_actions(flatten=True).column("path").to_pylist()}
    for root, dirs, files in os.walk(table_dir, topdown=True):
        if Path(root) == table_dir:
            dirs[:] = [d for d in dirs if d != LOG]
        for name in files:
            path = Path(root, name)
            rel = path.relative_to(table_dir).as_posix()
            if rel not in live and path.stat().st_mtime_ns > cutoff:
                path.unlink()
    for root, _dirs, _files in os.walk(table_dir, topdown=False):
        if Path(root) != table_dir and not os.listdir(root):
            os.rmdir(root)


def arrow_schema(table_dir: Path) -> pa.Schema:
    return pa.schema(DeltaTable(str(table_dir)).schema().to_arrow())


def write(
    table_dir: Path, data: pa.RecordBatchReader, *, mode: Literal["append", "overwrite"],
    create: bool, partition_by: list[str], merge_schema: bool, token: str,
) -> tuple[int, pa.Schema] | None:
    """One Delta commit from a stream of batches: its version and the table's schema then,
    or None when the latest commit is not ours (someone wrote without taking the lock)."""
    write_deltalake(
        str(table_dir), data, mode=mode,
        partition_by=(partition_by or None) if create else None,
        configuration=CREATE_CONFIGURATION if create else None,
        schema_mode="merge" if merge_schema else None,
        target_file_size=TARGET_FILE_SIZE,
        writer_properties=WriterProperties(compression="SNAPPY",
                                           max_row_group_size=ROW_GROUP_ROWS),
        commit_properties=CommitProperties(custom_metadata={TOKEN_KEY: token}),
    )
    table = DeltaTable(str(table_dir))
    last = table.history(1)[0]
    if last.get(TOKEN_KEY) != token:
        return None
    return int(last["version"]), pa.schema(table.schema().to_arrow())
