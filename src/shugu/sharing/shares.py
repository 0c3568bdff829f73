"""Who sees what: shares are products the caller's organisation is entitled to share-read.

Mapping: share = product slug, schema = "default", table = the product's table name. Only
tables with a published version appear; names are matched case-insensitively, as the
protocol asks.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shugu.catalog.models import DataTable, Product
from shugu.entitlements import service as entitlements
from shugu.entitlements.models import Entitlement
from shugu.errors import Forbidden, InvalidInput, NotFound
from shugu.identity.principal import Principal

SCHEMA = "default"
MODE = "share"
_NS = uuid.UUID("7b0f1a52-3c1e-4e5c-9a57-5d8e1d0b6a11")  # namespace of shugu's sharing ids


def share_id(product: Product) -> str:
    return str(uuid.uuid5(_NS, f"product:{product.id}"))


def table_id(table: DataTable) -> str:
    return str(uuid.uuid5(_NS, f"table:{table.id}"))


@dataclass(frozen=True)
class TableRef:
    """Everything a table request needs after the session is closed."""

    entitlement_id: int
    product_id: int
    slug: str
    table_id: int
    name: str
    directory: Path
    current_version: int


def visible(session: Session, principal: Principal) -> list[tuple[Entitlement, Product]]:
    pairs = entitlements.live_products(session, principal.org_id, MODE)
    return sorted(pairs, key=lambda ep: ep[1].slug)


def resolve_share(session: Session, principal: Principal, share: str) -> tuple[Entitlement,
                                                                                Product]:
    for e, p in visible(session, principal):
        if p.slug.lower() == share.lower():
            return e, p
    exists = session.scalar(select(Product.id).where(func.lower(Product.slug) == share.lower()))
    if exists is None:
        raise NotFound(f"share {share!r} does not exist", code="share_not_found")
    raise Forbidden(f"your organisation holds no live share entitlement to {share!r}",
                    code="not_entitled")


def check_schema(schema: str) -> None:
    if schema.lower() != SCHEMA:
        raise NotFound(f"schema {schema!r} does not exist (shugu shares have one schema, "
                       f"{SCHEMA!r})", code="schema_not_found")


def published_tables(product: Product) -> list[DataTable]:
    return [t for t in sorted(product.tables, key=lambda t: t.name)
            if t.current_version is not None]


def resolve_table(session: Session, principal: Principal, share: str, schema: str, name: str,
                  tables_dir: Path) -> TableRef:
    e, product = resolve_share(session, principal, share)
    check_schema(schema)
    for t in published_tables(product):
        if t.name.lower() == name.lower():
            assert t.current_version is not None
            return TableRef(entitlement_id=e.id, product_id=product.id, slug=product.slug,
                            table_id=t.id, name=t.name, directory=tables_dir / t.location,
                            current_version=int(t.current_version))
    raise NotFound(f"table {share}.{schema}.{name} does not exist", code="table_not_found")


def check_version(ref: TableRef, version: int, what: str = "version") -> int:
    if version < 0:
        raise InvalidInput(f"{what} must not be negative", code="invalid_version")
    if version > ref.current_version:
        raise InvalidInput(f"{what} {version} is not published; the latest version is "
                           f"{ref.current_version}", code="version_not_published")
    return version
