"""Who may open a provider page: a member of a provider organisation, and for a product's
workspace, the organisation that provides it. Everyone else gets the 404 page, as if the
page did not exist; the visibility checks themselves are the catalog's."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from shugu.catalog import products
from shugu.catalog.models import Product
from shugu.errors import NotFound
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.portal.pages import member_of
from shugu.runtime import Exchange


def provider_of(ex: Exchange, request: Request) -> Principal:
    """The signed-in member of a provider organisation; 404 page for anyone else."""
    return member_of(ex, request, "provider")


def own_product(session: Session, who: Principal, slug: str) -> Product:
    """The product if the caller's organisation provides it. Another organisation's product
    is 404 here even when it is listed (catalog.get_product decides what exists)."""
    product = products.get_product(session, who, slug)
    if product.provider_org_id != who.org_id:
        raise NotFound(f"product {slug!r} does not exist", code="product_not_found")
    return product


def org_names(session: Session, ids: set[int]) -> dict[int, str]:
    out = {}
    for org_id in ids:
        org = session.get(Organization, org_id)
        out[org_id] = org.name if org is not None else str(org_id)
    return out
