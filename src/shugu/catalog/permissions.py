"""Who may do what to a product: the one place the catalog checks authorisation."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from shugu.catalog.models import DataTable, Product
from shugu.errors import Forbidden, InvalidInput, NotFound
from shugu.identity.principal import Principal

T = TypeVar("T", bound=tuple[Any, ...])


def find_product(session: Session, slug: str) -> Product:
    product = session.scalar(select(Product).where(Product.slug == slug))
    if product is None:
        raise NotFound(f"product {slug!r} does not exist", code="product_not_found")
    return product


LISTED = "listed"


def can_see(principal: Principal, product: Product) -> bool:
    """Listed products are public; any other status only to the provider and operators."""
    return product.status == LISTED or product.provider_org_id == principal.org_id \
        or principal.is_operator


def visible_product(session: Session, principal: Principal, slug: str) -> Product:
    """The product, if the caller may see it; 404 as if it did not exist otherwise."""
    product = find_product(session, slug)
    if not can_see(principal, product):
        raise NotFound(f"product {slug!r} does not exist", code="product_not_found")
    return product


def visible_clause(principal: Principal) -> Any:
    """SQL filter of the products the caller may see (None: all)."""
    if principal.is_operator:
        return None
    return or_(Product.status == LISTED, Product.provider_org_id == principal.org_id)


def owned_product(session: Session, principal: Principal, slug: str) -> Product:
    """The product, if the caller's organisation provides it; 403 for anyone else's."""
    product = find_product(session, slug)
    if product.provider_org_id != principal.org_id:
        raise Forbidden(f"product {slug!r} belongs to another organisation",
                        code="not_product_owner")
    return product


def owned_table(session: Session, principal: Principal, slug: str, table: str) -> DataTable:
    product = owned_product(session, principal, slug)
    return find_table(session, product, table)


def find_table(session: Session, product: Product, table: str) -> DataTable:
    row = session.scalar(
        select(DataTable).where(DataTable.product_id == product.id, DataTable.name == table)
    )
    if row is None:
        raise NotFound(f"product {product.slug!r} has no table {table!r}", code="table_not_found")
    return row


def as_party(query: Select[T], consumer_col: Any, product_col: Any, principal: Principal,
             role: str) -> Select[T]:
    """Restrict rows about the use of products to one side of the trade: as "consumer", the
    caller's own; as "provider", those about the caller's products."""
    if role == "consumer":
        return query.where(consumer_col == principal.org_id)
    if role == "provider":
        return query.join(Product, Product.id == product_col).where(
            Product.provider_org_id == principal.org_id)
    raise InvalidInput("role must be consumer or provider", code="invalid_role")
