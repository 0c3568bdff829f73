"""Who may open a provider page: a member of a provider organisation, and for a product's
workspace, the organisation that provides it. Everyone else gets the 404 page, as if the
page did not exist; the visibility checks themselves are the catalog's."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.orm import Session

from shugu.catalog import products
from shugu.catalog.models import Product
from shugu.errors import InvalidInput, NotFound
from shugu.identity import service as identity
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.identity.uscc import normalize
from shugu.pagination import MAX_LIMIT
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


def find_org(session: Session, text: str, field: str) -> int:
    """The organisation the provider typed: its 统一社会信用代码 (18 characters), its name
    (Chinese or English, exactly) or its id. Looked up in the organisation directory every
    signed-in organisation may read (identity.list_organizations, GET /organizations).
    Unknown or ambiguous: 400 with a stable code naming the field."""
    wanted = text.strip()
    if not wanted:
        raise InvalidInput(f"{field}: give the organisation's 统一社会信用代码 or name",
                           code="missing_field", field=field)
    orgs, token = [], None
    while True:
        page = identity.list_organizations(session, MAX_LIMIT, token)
        orgs.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    code = normalize(wanted)
    if len(code) == 18 and any(o.uscc == code for o in orgs):
        found = [o for o in orgs if o.uscc == code]
    elif wanted.lstrip("#").isdigit():
        found = [o for o in orgs if o.id == int(wanted.lstrip("#"))]
    else:
        key = wanted.casefold()
        found = [o for o in orgs if o.name == wanted or (o.name_en or "").casefold() == key]
    if not found:
        raise InvalidInput(f"{field}: no organisation has the 统一社会信用代码, name or id "
                           f"{wanted!r}", code="unknown_organization", field=field)
    if len(found) > 1:
        raise InvalidInput(f"{field}: {len(found)} organisations are named {wanted!r}; give "
                           "the 统一社会信用代码", code="ambiguous_organization", field=field)
    return found[0].id
