"""Service functions for products, their tables and revisions."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shugu.catalog import schemas, search
from shugu.catalog.models import DataTable, Product, ProductTag, Revision
from shugu.catalog.permissions import owned_product, visible_clause, visible_product
from shugu.db import utcnow
from shugu.errors import Conflict, InvalidInput, NotFound, Unprocessable
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.pagination import Page, check_limit, decode_token, next_token

PRODUCT_FIELDS = ("title_zh", "title_en", "description_zh", "description_en", "tags", "category",
                  "update_frequency", "data_source", "scenario", "sample_rows")


def _clean_tags(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > 100:
            raise InvalidInput(f"tag {tag[:20]!r}… is longer than 100 characters",
                               code="invalid_tag")
        seen.setdefault(tag, None)
    return list(seen)


def _product_payload(product: Product) -> dict[str, Any]:
    return {"slug": product.slug, "provider_org_id": product.provider_org_id,
            **{f: getattr(product, f) for f in PRODUCT_FIELDS}}


def _set_tags(session: Session, product: Product) -> None:
    session.execute(delete(ProductTag).where(ProductTag.product_id == product.id))
    for tag in product.tags:
        session.add(ProductTag(product_id=product.id, tag=tag))


def create_product(session: Session, principal: Principal, data: schemas.ProductIn) -> Product:
    principal.require_role("provider")
    if session.scalar(select(Product.id).where(Product.slug == data.slug)):
        raise Conflict(f"a product with slug {data.slug!r} already exists",
                       code="duplicate_slug")
    values = data.model_dump()
    values["tags"] = _clean_tags(values["tags"])
    product = Product(provider_org_id=principal.org_id, **values)
    session.add(product)
    session.flush()
    _set_tags(session, product)
    search.index_product(session, product)
    ledger.append(session, actor=principal.actor, action="product.created",
                  parties=[principal.org_id],
                  subject=f"product:{product.slug}", payload=_product_payload(product))
    return product


def update_product(
    session: Session, principal: Principal, slug: str, patch: schemas.ProductPatch
) -> Product:
    product = owned_product(session, principal, slug)
    changes = patch.model_dump(exclude_unset=True)
    for required in ("title_zh", "sample_rows"):
        if required in changes and changes[required] is None:
            raise InvalidInput(f"{required} cannot be removed", code="invalid_input")
    if "tags" in changes:
        changes["tags"] = _clean_tags(changes["tags"] or [])
    for name, value in changes.items():
        setattr(product, name, value)
    product.updated_at = utcnow()
    session.flush()
    _set_tags(session, product)
    search.index_product(session, product)
    ledger.append(session, actor=principal.actor, action="product.updated",
                  parties=[principal.org_id, product.provider_org_id],
                  subject=f"product:{product.slug}",
                  payload={"slug": product.slug, "changes": changes})
    return product


def create_table(
    session: Session, principal: Principal, slug: str, data: schemas.TableIn
) -> DataTable:
    product = owned_product(session, principal, slug)
    # Checked here too, for callers that built a TableIn without validation.
    if not re.fullmatch(schemas.TABLE_PATTERN.strip("^$"), data.name):
        raise Unprocessable(
            f"table names are a lower-case ASCII letter then up to 62 letters, digits or "
            f"underscores; not {data.name[:80]!r}", code="invalid_table_name")
    exists = session.scalar(select(DataTable.id).where(
        DataTable.product_id == product.id, DataTable.name == data.name))
    if exists:
        raise Conflict(f"product {slug!r} already has a table {data.name!r}",
                       code="duplicate_table")
    table = DataTable(product_id=product.id, name=data.name, description=data.description,
                      location=f"{product.id}/{data.name}", partition_by=data.partition_by,
                      schema_json=None, current_version=None, row_count=0)
    session.add(table)
    session.flush()
    ledger.append(session, actor=principal.actor, action="table.created",
                  parties=[principal.org_id, product.provider_org_id],
                  subject=f"product:{slug}/table:{data.name}",
                  payload={"product": slug, "table": data.name,
                           "partition_by": data.partition_by})
    return table


def table_out(table: DataTable) -> schemas.TableOut:
    columns = [schemas.ColumnOut(**c) for c in (table.schema_json or [])]  # type: ignore[arg-type]
    return schemas.TableOut(
        id=table.id, name=table.name, description=table.description,
        current_version=table.current_version, columns=columns,
        partition_by=list(table.partition_by or []), row_count=table.row_count,
        created_at=table.created_at,
    )


def product_out(session: Session, product: Product) -> schemas.ProductOut:
    provider = session.get(Organization, product.provider_org_id)
    assert provider is not None
    return schemas.ProductOut(
        id=product.id, slug=product.slug, provider_org_id=product.provider_org_id,
        provider_name=provider.name, status=product.status, created_at=product.created_at,
        updated_at=product.updated_at, tables=[table_out(t) for t in product.tables],
        **{f: getattr(product, f) for f in PRODUCT_FIELDS},
    )


def get_product(session: Session, principal: Principal, slug: str) -> Product:
    return visible_product(session, principal, slug)


def list_products(
    session: Session, principal: Principal, provider_org_id: int | None, limit: int | None,
    page_token: str | None,
) -> Page[schemas.ProductOut]:
    limit, offset = check_limit(limit), decode_token(page_token)
    query = select(Product).order_by(Product.id)
    count = select(func.count(Product.id))
    visible = visible_clause(principal)
    if visible is not None:
        query, count = query.where(visible), count.where(visible)
    if provider_org_id is not None:
        query = query.where(Product.provider_org_id == provider_org_id)
        count = count.where(Product.provider_org_id == provider_org_id)
    rows = session.scalars(query.offset(offset).limit(limit + 1)).all()
    return Page[schemas.ProductOut](
        items=[product_out(session, p) for p in rows[:limit]],
        next_page_token=next_token(offset, limit, len(rows)), total=session.scalar(count),
    )


def publish_revision(
    session: Session, principal: Principal, slug: str, data: schemas.RevisionIn
) -> Revision:
    product = owned_product(session, principal, slug)
    if session.scalar(select(Revision.id).where(
            Revision.product_id == product.id, Revision.name == data.name)):
        raise Conflict(f"product {slug!r} already has a revision named {data.name!r}",
                       code="duplicate_revision")
    tables = {t.name: t for t in product.tables}
    wanted = data.tables if data.tables is not None else list(tables)
    if not wanted:
        raise InvalidInput(f"product {slug!r} has no tables to publish", code="empty_revision")
    versions: dict[str, int] = {}
    for name in wanted:
        table = tables.get(name)
        if table is None:
            raise NotFound(f"product {slug!r} has no table {name!r}", code="table_not_found")
        if table.current_version is None:
            raise InvalidInput(f"table {name!r} has no data yet; ingest before publishing",
                               code="table_empty")
        versions[name] = table.current_version
    number = (session.scalar(select(func.max(Revision.number)).where(
        Revision.product_id == product.id)) or 0) + 1
    revision = Revision(product_id=product.id, number=number, name=data.name, note=data.note,
                        table_versions=versions, status="published", created_at=utcnow())
    session.add(revision)
    session.flush()
    ledger.append(session, actor=principal.actor, action="revision.published",
                  parties=[principal.org_id, product.provider_org_id],
                  subject=f"product:{slug}/revision:{number}",
                  payload={"product": slug, "number": number, "name": data.name,
                           "table_versions": versions})
    return revision


def find_revision(session: Session, product: Product, number: int) -> Revision:
    revision = session.scalar(select(Revision).where(
        Revision.product_id == product.id, Revision.number == number))
    if revision is None:
        raise NotFound(f"product {product.slug!r} has no revision {number}",
                       code="revision_not_found")
    return revision


def revoke_revision(
    session: Session, principal: Principal, slug: str, number: int, reason: str
) -> Revision:
    product = owned_product(session, principal, slug)
    revision = find_revision(session, product, number)
    if revision.status == "revoked":
        raise Conflict(f"revision {number} is already revoked", code="revision_revoked")
    revision.status = "revoked"
    revision.revoked_at = utcnow()
    revision.revoke_reason = reason
    ledger.append(session, actor=principal.actor, action="revision.revoked",
                  parties=[principal.org_id, product.provider_org_id],
                  subject=f"product:{slug}/revision:{number}",
                  payload={"product": slug, "number": number, "reason": reason})
    return revision


def list_revisions(session: Session, principal: Principal, slug: str) -> list[Revision]:
    product = visible_product(session, principal, slug)
    return list(session.scalars(select(Revision).where(
        Revision.product_id == product.id).order_by(Revision.number)))


def get_revision(session: Session, principal: Principal, slug: str, number: int) -> Revision:
    return find_revision(session, visible_product(session, principal, slug), number)
