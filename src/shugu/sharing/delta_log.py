"""Reading a Delta table's log as of a version, for the sharing protocol.

We replay the log ourselves (JSON commits after the latest checkpoint) rather than going
through deltalake's scan API because the protocol needs the log's own strings — the raw
`stats` JSON, the metadata's `schemaString`, per-commit add/remove/cdc actions with their
commit timestamps — and re-serialising typed statistics would be both slow and lossy.

Only versions up to DataTable.current_version are ever read, and those commit files never
change afterwards (an interrupted ingest's newer commit is cut off before it is rewritten),
so parsed state is cached per (table directory, version) without invalidation.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from shugu.errors import InvalidInput, NotFound

LOG = "_delta_log"
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint\.parquet$")
_SNAPSHOT_CACHE_SIZE = 16
_COMMIT_CACHE_SIZE = 4096


@dataclass(frozen=True)
class FileAction:
    """One data file as the log names it (path relative to the table, percent-decoded)."""

    path: str
    size: int
    partition_values: dict[str, str | None]
    stats: str | None = None
    data_change: bool = True
    modification_time: int = 0

    @property
    def id(self) -> str:
        # Stable across queries and versions: clients key caches on it.
        return hashlib.sha256(self.path.encode()).hexdigest()[:32]

    def num_records(self) -> int | None:
        if not self.stats:
            return None
        try:
            n = json.loads(self.stats).get("numRecords")
        except ValueError:
            return None
        return int(n) if isinstance(n, int) else None


@dataclass
class Commit:
    version: int
    timestamp: int  # milliseconds since the epoch
    adds: list[FileAction] = field(default_factory=list)
    removes: list[FileAction] = field(default_factory=list)
    cdcs: list[FileAction] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    protocol: dict[str, Any] | None = None


@dataclass
class Snapshot:
    version: int
    timestamp: int
    metadata: dict[str, Any]
    protocol: dict[str, Any]
    files: list[FileAction]
    # Filled on demand by the query planner (parsed stats per file); kept with the snapshot.
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def partition_columns(self) -> list[str]:
        return list(self.metadata.get("partitionColumns") or [])

    @property
    def configuration(self) -> dict[str, str]:
        return dict(self.metadata.get("configuration") or {})


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


def _file(action: dict[str, Any]) -> FileAction:
    pv = action.get("partitionValues") or {}
    return FileAction(path=_unquote(action["path"]), size=int(action.get("size") or 0),
                      partition_values={k: v for k, v in pv.items()},
                      stats=action.get("stats"), data_change=bool(action.get("dataChange", True)),
                      modification_time=int(action.get("modificationTime") or 0))


class DeltaLog:
    """Cached, thread-safe access to the logs of the tables under one directory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commits: OrderedDict[tuple[str, int], Commit] = OrderedDict()
        self._snapshots: OrderedDict[tuple[str, int], Snapshot] = OrderedDict()

    # -- commits --------------------------------------------------------------------------

    def commit(self, table_dir: Path, version: int) -> Commit:
        key = (str(table_dir), version)
        with self._lock:
            hit = self._commits.get(key)
            if hit is not None:
                self._commits.move_to_end(key)
                return hit
        commit = self._read_commit(table_dir, version)
        with self._lock:
            self._commits[key] = commit
            while len(self._commits) > _COMMIT_CACHE_SIZE:
                self._commits.popitem(last=False)
        return commit

    @staticmethod
    def _read_commit(table_dir: Path, version: int) -> Commit:
        path = table_dir / LOG / f"{version:020d}.json"
        try:
            text = path.read_text(encoding="utf-8")
            mtime = int(path.stat().st_mtime * 1000)
        except FileNotFoundError:
            raise NotFound(f"version {version} of the table is no longer available",
                           code="version_not_found") from None
        commit = Commit(version=version, timestamp=mtime)
        for line in text.splitlines():
            if not line.strip():
                continue
            action = json.loads(line)
            if "add" in action:
                commit.adds.append(_file(action["add"]))
            elif "remove" in action:
                commit.removes.append(_file(action["remove"]))
            elif "cdc" in action:
                commit.cdcs.append(_file(action["cdc"]))
            elif "metaData" in action:
                commit.metadata = action["metaData"]
            elif "protocol" in action:
                commit.protocol = action["protocol"]
            elif "commitInfo" in action:
                ts = action["commitInfo"].get("timestamp")
                if isinstance(ts, int):
                    commit.timestamp = ts
        return commit

    def timestamps(self, table_dir: Path, upto: int) -> list[int]:
        """Commit timestamps of versions 0..upto (ms)."""
        return [self.commit(table_dir, v).timestamp for v in range(upto + 1)]

    # -- snapshots ------------------------------------------------------------------------

    def snapshot(self, table_dir: Path, version: int) -> Snapshot:
        key = (str(table_dir), version)
        with self._lock:
            hit = self._snapshots.get(key)
            if hit is not None:
                self._snapshots.move_to_end(key)
                return hit
            # Start from the nearest cached earlier version of this table, if any.
            base = max((s for (d, v), s in self._snapshots.items()
                        if d == key[0] and v < version), key=lambda s: s.version, default=None)
        snap = self._build(table_dir, version, base)
        with self._lock:
            self._snapshots[key] = snap
            while len(self._snapshots) > _SNAPSHOT_CACHE_SIZE:
                self._snapshots.popitem(last=False)
        return snap

    def _build(self, table_dir: Path, version: int, base: Snapshot | None) -> Snapshot:
        files: dict[str, FileAction]
        metadata: dict[str, Any] | None
        protocol: dict[str, Any] | None
        checkpoint = _latest_checkpoint(table_dir / LOG, version)
        if base is not None and (checkpoint is None or base.version >= checkpoint):
            start = base.version + 1
            files = {f.path: f for f in base.files}
            metadata, protocol = base.metadata, base.protocol
        elif checkpoint is not None:
            files, metadata, protocol = _read_checkpoint(table_dir / LOG, checkpoint)
            start = checkpoint + 1
        else:
            start, files, metadata, protocol = 0, {}, None, None
        for v in range(start, version + 1):
            c = self.commit(table_dir, v)
            for r in c.removes:
                files.pop(r.path, None)
            for a in c.adds:
                files[a.path] = a
            if c.metadata is not None:
                metadata = c.metadata
            if c.protocol is not None:
                protocol = c.protocol
        if metadata is None or protocol is None:
            raise NotFound("the table's Delta log has no metadata", code="table_not_found")
        return Snapshot(version=version, timestamp=self.commit(table_dir, version).timestamp,
                        metadata=metadata, protocol=protocol, files=list(files.values()))

    # -- versions from timestamps ---------------------------------------------------------

    def version_at(self, table_dir: Path, current: int, when: str) -> int:
        """The version a reader saw at `when`: the last commit at or before it."""
        ms = parse_timestamp(when)
        stamps = self.timestamps(table_dir, current)
        found = [v for v, ts in enumerate(stamps) if ts <= ms]
        if not found:
            raise InvalidInput(f"the timestamp {when} is before the table's first version",
                               code="timestamp_too_early")
        return found[-1]

    def version_from(self, table_dir: Path, current: int, when: str) -> int:
        """The first version committed at or after `when`."""
        ms = parse_timestamp(when)
        stamps = self.timestamps(table_dir, current)
        for v, ts in enumerate(stamps):
            if ts >= ms:
                return v
        raise InvalidInput(f"the timestamp {when} is after the table's latest version",
                           code="timestamp_too_late")


def _latest_checkpoint(log: Path, version: int) -> int | None:
    best = None
    try:
        names = [p.name for p in log.iterdir()]
    except FileNotFoundError:
        raise NotFound("the table's Delta log is missing", code="table_not_found") from None
    for name in names:
        m = _CHECKPOINT.match(name)
        if m and int(m.group(1)) <= version and (best is None or int(m.group(1)) > best):
            best = int(m.group(1))
    return best


def _read_checkpoint(
    log: Path, version: int
) -> tuple[dict[str, FileAction], dict[str, Any] | None, dict[str, Any] | None]:
    table = pq.read_table(log / f"{version:020d}.checkpoint.parquet")
    names = set(table.column_names)
    files: dict[str, FileAction] = {}
    metadata = protocol = None
    if "add" in names:
        for a in table.column("add").to_pylist():
            if a is not None:
                pv = a.get("partitionValues") or {}
                if isinstance(pv, list):  # arrow maps come back as (key, value) pairs
                    pv = dict(pv)
                a = {**a, "partitionValues": pv}
                f = _file(a)
                files[f.path] = f
    if "metaData" in names:
        for m in table.column("metaData").to_pylist():
            if m is not None:
                cfg = m.get("configuration") or {}
                m["configuration"] = dict(cfg) if isinstance(cfg, list) else cfg
                metadata = m
    if "protocol" in names:
        for p in table.column("protocol").to_pylist():
            if p is not None:
                protocol = {k: v for k, v in p.items() if v is not None}
    return files, metadata, protocol


def parse_timestamp(text: str) -> int:
    """Milliseconds since the epoch from the protocol's `yyyy-[m]m-[d]d hh:mm:ss[.f...]`
    (read as UTC: the server's zone) or an ISO 8601 time with an offset."""
    raw = text.strip()
    try:
        iso = raw.replace("Z", "+00:00") if raw.endswith("Z") else raw
        dt = datetime.fromisoformat(iso)
    except ValueError:
        try:
            date, _, clock = raw.partition(" ")
            y, mo, d = (int(x) for x in date.split("-"))
            dt = datetime.fromisoformat(f"{y:04d}-{mo:02d}-{d:02d} {clock or '00:00:00'}")
        except ValueError:
            raise InvalidInput(f"{text!r} is not a timestamp (yyyy-mm-dd hh:mm:ss[.f] or "
                               "ISO 8601)", code="invalid_timestamp") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)
