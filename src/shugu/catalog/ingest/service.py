"""Ingestion: a CSV, Parquet or Arrow file becomes the next Delta version of a table.

The order of work is what keeps it safe: check permission in a read transaction, then, with
the table's lock held, bring the Delta table back to the database's recorded version, stream
the file into one Delta commit (no database transaction is open meanwhile, so SQLite is not
locked for minutes), and finally record the version, the ingest and its ledger event in one
short write transaction. Until that transaction commits, nothing of the new data is visible.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pyarrow as pa
from sqlalchemy import select

from shugu.catalog import schemas
from shugu.catalog.ingest import columns, delta, errors
from shugu.catalog.ingest.options import IngestOptions
from shugu.catalog.ingest.readers import Source, open_source
from shugu.catalog.models import DataTable, Ingest
from shugu.catalog.permissions import owned_table
from shugu.errors import InvalidInput
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.runtime import Exchange

log = logging.getLogger("shugu.ingest")


def ingest_file(
    ex: Exchange, principal: Principal, slug: str, table: str, path: Path, *,
    mode: Literal["append", "overwrite"], options: IngestOptions, source_name: str | None,
    progress: Callable[[int], None] | None = None,
) -> schemas.IngestOut:
    """Write `path` as a new version of the table; `progress(n)`: source bytes read so far."""
    if mode not in ("append", "overwrite"):
        raise InvalidInput(f"mode must be append or overwrite, not {mode!r}",
                                  code="invalid_mode")
    options = options.checked()
    max_columns = ex.settings.max_columns
    with ex.read() as s:
        row = owned_table(s, principal, slug, table)
        table_id = row.id
        table_dir = ex.settings.tables_dir / row.location
    with delta.locked(table_dir):
        with ex.read() as s:  # again: another ingest may have finished while we waited
            row = s.get_one(DataTable, table_id)
            recorded, row_count = row.current_version, row.row_count
            partition_by = list(row.partition_by or [])
        delta.reconcile(table_dir, recorded)
        existing = delta.arrow_schema(table_dir) if recorded is not None else None
        source = open_source(path, options, progress, max_columns)
        try:
            plan = columns.plan(source.names, source.types, existing, partition_by,
                                parsed_as_table_types=source.parsed_as_table_types)
            if len(plan.target) > max_columns:  # the table's columns and the new ones
                raise errors.too_many_columns(len(plan.target), max_columns)
            version, schema, rows = _write(table_dir, source, plan, mode=mode,
                                           recorded=recorded, partition_by=partition_by,
                                           table=table)
            sha256, size = source.digest()
        finally:
            source.close()
        if progress is not None:
            progress(size)
        out = _record(ex, principal, slug, table, table_id, recorded, version, schema, plan,
                      source, mode=mode, rows=rows, sha256=sha256, size=size,
                      source_name=source_name[:500] if source_name else None,
                      row_count=rows if mode == "overwrite" else row_count + rows)
        delta.clear_pending(table_dir)
        return out


def recover(ex: Exchange) -> list[str]:
    """At start: cut every table a killed ingest left unfinished back to its recorded
    version (the same repair the next ingest would make), so no partial version or orphaned
    file waits on disk. Tables another process is writing right now are left alone."""
    repaired: list[str] = []
    for table_dir in delta.pending_tables(ex.settings.tables_dir):
        location = table_dir.relative_to(ex.settings.tables_dir).as_posix()
        try:
            with delta.locked_if_free(table_dir) as free:
                if not free:
                    continue
                with ex.read() as s:
                    row = s.scalars(select(DataTable)
                                    .where(DataTable.location == location)).first()
                    recorded = None if row is None else row.current_version
                delta.reconcile(table_dir, recorded)
                repaired.append(location)
        except Exception:
            # One damaged table must not keep the exchange from starting; its next ingest
            # meets the same problem and reports it.
            log.exception("could not repair table %s after an interrupted ingest", location)
    return repaired


class _Feed:
    """The batches delta-rs pulls: conformed to the plan and counted. delta-rs reports a
    failure inside the stream only as text, so the exception itself is kept here."""

    def __init__(self, batches: Iterator[pa.RecordBatch], plan: columns.Plan) -> None:
        self.plan = plan
        self.rows = 0
        self.failure: BaseException | None = None
        first = next((b for b in batches if b.num_rows), None)  # before any write starts
        if first is None:
            raise errors.empty_file()
        self._batches = itertools.chain([first], batches)

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.plan.target, self._generate())

    def _generate(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self._batches:
                out = columns.conform(batch, self.plan)
                self.rows += out.num_rows
                yield out
        except BaseException as exc:
            self.failure = exc
            raise


def _write(table_dir: Path, source: Source, plan: columns.Plan, *, mode: str,
           recorded: int | None, partition_by: list[str], table: str) -> tuple[int, pa.Schema, int]:
    """The new Delta version, the table's schema after it, and the rows written."""
    feed = _Feed(source.batches(plan), plan)
    token = secrets.token_hex(16)
    delta.mark_pending(table_dir)
    try:
        written = delta.write(table_dir, feed.reader(), mode=mode,  # type: ignore[arg-type]
                              create=recorded is None, partition_by=partition_by,
                              merge_schema=bool(plan.added), token=token)
    except BaseException as exc:
        # Nothing may stay behind: cut back any commit and delete the files written.
        delta.reconcile(table_dir, recorded)
        raise (feed.failure or exc) from None
    if written is None:
        # Our commit is not the latest: someone wrote without the lock. Leave the pending
        # mark; the next ingest cuts the log back to whatever the database then records.
        raise errors.concurrent_ingest(table)
    version, schema = written
    return version, schema, feed.rows


def _record(
    ex: Exchange, principal: Principal, slug: str, table: str, table_id: int,
    recorded: int | None, version: int, schema: pa.Schema, plan: columns.Plan, source: Source,
    *, mode: str, rows: int, row_count: int, sha256: str, size: int, source_name: str | None,
) -> schemas.IngestOut:
    """Publish the version: the table row, the ingest and its ledger event, atomically."""
    with ex.transaction() as s:
        row = s.execute(select(DataTable).where(DataTable.id == table_id)
                        .with_for_update()).scalar_one()
        if row.current_version != recorded:
            raise errors.concurrent_ingest(table)
        described = columns.describe(schema)
        row.current_version = version
        row.schema_json = described
        row.row_count = row_count
        ingest = Ingest(table_id=table_id, version=version, mode=mode,
                        source_format=source.format, source_name=source_name,
                        source_sha256=sha256, source_bytes=size, rows=rows,
                        encoding=source.encoding, actor_user_id=principal.user_id)
        s.add(ingest)
        s.flush()
        ledger.append(s, actor=principal.actor, action="table.ingested",
                      parties=[principal.org_id],
                      subject=f"product:{slug}/table:{table}",
                      payload={"product": slug, "table": table, "version": version,
                               "mode": mode, "rows": rows, "sha256": sha256, "bytes": size,
                               "format": source.format, "source_name": source_name,
                               "added_columns": plan.added})
        return schemas.IngestOut(
            id=ingest.id, table=table, version=version, mode=mode,
            source_format=source.format, source_name=source_name, source_sha256=sha256,
            source_bytes=size, rows=rows, encoding=source.encoding,
            created_at=ingest.created_at,
            columns=[schemas.ColumnOut(**c) for c in described],  # type: ignore[arg-type]
            added_columns=plan.added, renamed_columns=plan.renamed)
