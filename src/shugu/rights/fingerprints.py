"""Recording and reading revision fingerprints (存证)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.catalog.ingest.errors import StorageInconsistent
from shugu.catalog.models import DataTable, Product, Revision
from shugu.catalog.permissions import find_product, owned_product
from shugu.catalog.products import find_revision
from shugu.db import utcnow
from shugu.errors import Conflict, NotFound
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.rights import fingerprint as fp
from shugu.rights import schemas
from shugu.rights.models import Fingerprint


def existing(session: Session, revision: Revision) -> Fingerprint | None:
    return session.scalar(select(Fingerprint).where(Fingerprint.revision_id == revision.id))


def plan(session: Session, principal: Principal, tables_dir: Path, slug: str,
         number: int) -> tuple[Fingerprint | None, dict[str, tuple[Path, int | None]]]:
    """Check the caller may fingerprint the revision; the stored fingerprint if there is one,
    otherwise what to hash (the hashing runs outside any transaction)."""
    product = owned_product(session, principal, slug)
    revision = find_revision(session, product, number)
    if revision.status == "revoked":
        raise Conflict(f"revision {number} is revoked", code="revision_revoked")
    found = existing(session, revision)
    if found is not None:
        return found, {}
    rows = {t.name: t for t in session.scalars(
        select(DataTable).where(DataTable.product_id == product.id))}
    tables: dict[str, tuple[Path, int | None]] = {}
    for name, version in revision.table_versions.items():
        row = rows.get(name)
        if row is None:  # a table cannot be deleted, so this is storage gone wrong
            raise StorageInconsistent(f"table {name!r} of revision {number} no longer exists")
        tables[name] = (tables_dir / row.location, int(version))
    return None, tables


def record(session: Session, principal: Principal, slug: str, number: int,
           result: fp.Result) -> Fingerprint:
    """Store the fingerprint and append `fingerprint.recorded`; idempotent."""
    product = owned_product(session, principal, slug)
    revision = find_revision(session, product, number)
    # Serialise concurrent first recordings of one revision (one row per revision).
    session.refresh(revision, with_for_update=True)
    found = existing(session, revision)
    if found is not None:  # another request got there first
        return found
    if result.table_versions != {k: int(v) for k, v in revision.table_versions.items()}:
        raise StorageInconsistent("the tables were read at other versions than the revision's")
    payload = {"product": slug, "revision": number, "algorithm": fp.ALGORITHM,
               "root": result.root, "table_versions": result.table_versions,
               "file_count": len(result.files), "total_bytes": result.total_bytes}
    event = ledger.append(session, actor=principal.actor, action="fingerprint.recorded",
                          parties=[principal.org_id],
                          subject=f"product:{slug}/revision:{number}", payload=payload)
    row = Fingerprint(product_id=product.id, revision_id=revision.id, algorithm=fp.ALGORITHM,
                      root=result.root, table_versions=result.table_versions,
                      files=[f.to_json() for f in result.files], file_count=len(result.files),
                      total_bytes=result.total_bytes, ledger_seq=event.seq,
                      created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def get(session: Session, slug: str, number: int) -> Fingerprint:
    product = find_product(session, slug)
    found = existing(session, find_revision(session, product, number))
    if found is None:
        raise NotFound(f"revision {number} of {slug!r} has no fingerprint yet",
                       code="fingerprint_not_found")
    return found


def for_revision(session: Session, product: Product, number: int) -> Fingerprint:
    found = existing(session, find_revision(session, product, number))
    if found is None:
        raise Conflict(f"revision {number} of {product.slug!r} has no fingerprint; record it "
                       "first (POST .../fingerprint)", code="fingerprint_required")
    return found


def to_out(session: Session, f: Fingerprint) -> schemas.FingerprintOut:
    product = session.get(Product, f.product_id)
    revision = session.get(Revision, f.revision_id)
    assert product is not None and revision is not None
    return schemas.FingerprintOut(
        product=product.slug, revision=revision.number, algorithm=f.algorithm, root=f.root,
        table_versions=dict(f.table_versions), file_count=f.file_count,
        total_bytes=f.total_bytes, files=[schemas.FileOut(**x) for x in f.files],
        ledger_seq=f.ledger_seq, created_at=f.created_at)
