"""The consumer's own tables: uploaded into its sandbox space, usable as mine.<name> in its
queries, never listed to a provider, deleted (files and all) on request."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.errors import Conflict, InvalidInput, NotFound
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.runtime import Exchange
from shugu.sandbox.models import PrivateTable


def _read(path: Path, fmt: str) -> pa.Table:
    try:
        if fmt == "parquet" or (fmt == "auto" and path.read_bytes()[:4] == b"PAR1"):
            return pq.read_table(path)
        return pcsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"the file is not a readable CSV or Parquet file: {exc}"[:300],
                           code="corrupt_file") from None


def upload(ex: Exchange, principal: Principal, name: str, path: Path, fmt: str) -> PrivateTable:
    principal.require_role("consumer")
    table = _read(path, fmt)
    if table.num_columns == 0:
        raise InvalidInput("the file has no columns", code="empty_file")
    directory = ex.settings.resolved_data_dir() / "sandbox" / str(principal.org_id)
    directory.mkdir(parents=True, exist_ok=True)
    file = f"{name}-{uuid.uuid4().hex[:12]}.parquet"
    pq.write_table(table, directory / file)
    digest = hashlib.sha256((directory / file).read_bytes()).hexdigest()
    try:
        with ex.transaction() as s:
            if s.scalar(select(PrivateTable.id).where(PrivateTable.org_id == principal.org_id,
                                                      PrivateTable.name == name)):
                raise Conflict(f"you already have a table mine.{name}; delete it first "
                               "(private tables are immutable)", code="duplicate_table")
            row = PrivateTable(org_id=principal.org_id, name=name, file=file,
                               columns=[{"name": f.name, "type": str(f.type)}
                                        for f in table.schema],
                               rows=table.num_rows, sha256=digest)
            s.add(row)
            s.flush()
            ledger.append(s, actor=principal.actor, action="sandbox.private_table_uploaded",
                          parties=[principal.org_id],
                          subject=f"sandbox_private_table:{row.id}",
                          payload={"id": row.id, "org_id": principal.org_id, "name": name,
                                   "sha256": digest, "rows": row.rows})
            return row
    except BaseException:
        (directory / file).unlink(missing_ok=True)
        raise


def find(session: Session, principal: Principal, name: str) -> PrivateTable:
    row = session.scalar(select(PrivateTable).where(PrivateTable.org_id == principal.org_id,
                                                    PrivateTable.name == name))
    if row is None:
        raise NotFound(f"you have no table mine.{name}", code="private_table_not_found")
    return row


def list_own(session: Session, principal: Principal) -> list[PrivateTable]:
    return list(session.scalars(select(PrivateTable).where(
        PrivateTable.org_id == principal.org_id).order_by(PrivateTable.name)))


def delete(ex: Exchange, principal: Principal, name: str) -> None:
    with ex.transaction() as s:
        row = find(s, principal, name)
        file = ex.settings.resolved_data_dir() / "sandbox" / str(principal.org_id) / row.file
        ledger.append(s, actor=principal.actor, action="sandbox.private_table_deleted",
                      parties=[principal.org_id],
                      subject=f"sandbox_private_table:{row.id}",
                      payload={"id": row.id, "org_id": principal.org_id, "name": name,
                               "sha256": row.sha256})
        s.delete(row)
    file.unlink(missing_ok=True)
