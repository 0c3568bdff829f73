"""The provider's certificates on the registrations tab: the later registrations the rights
service supports on a certificate the provider's organisation holds for this product
(licence, transfer, change, cancellation) and pledges (质押) on it.

Every change goes through rights.registrations.create and rights.pledges.register with the
signed-in Principal; the domain checks the holder, the certificate's state, open
registrations and pledges (409 certificate_pledged, registration_pending, …). The portal
only checks that the certificate belongs to this product and to the caller (404 otherwise).
The counterparty is typed as a 统一社会信用代码, a name or an id (provider_access.find_org).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from shugu.api.deps import ExchangeDep
from shugu.catalog.models import Product
from shugu.errors import NotFound
from shugu.identity.principal import Principal
from shugu.portal import provider_forms as forms
from shugu.portal.pages import done, posted
from shugu.portal.provider_access import find_org, own_product, provider_of
from shugu.rights import certificates, pledges, registrations
from shugu.rights import permissions as rights_perm
from shugu.rights.models import RIGHTS, Certificate

router = APIRouter()


def held(session: Session, who: Principal, product: Product) -> list[dict[str, Any]]:
    """The product's certificates the caller's organisation holds (or held), newest first,
    with their current status, rights, encumbrances and licences."""
    out = []
    for cert in certificates.for_product(session, product.id):
        if cert.holder_org_id != who.org_id:
            continue
        view = certificates.to_out(session, cert)
        out.append({"number": cert.number, "status": view.status,
                    "rights": [{"code": r, "zh": RIGHTS[r][0], "en": RIGHTS[r][1]}
                               for r in cert.rights],
                    "valid_until": view.valid_until, "issued_at": view.issued_at,
                    "successor": view.successor, "encumbrances": view.encumbrances,
                    "licences": view.licences,
                    "in_effect": view.status in ("valid", "pledged")})
    return out


def _held_certificate(session: Session, who: Principal, slug: str, number: str) -> Certificate:
    product = own_product(session, who, slug)
    cert = rights_perm.find_certificate(session, number)
    if cert.product_id != product.id or cert.holder_org_id != who.org_id:
        raise NotFound(f"certificate {number!r} does not exist", code="certificate_not_found")
    return cert


def _back(slug: str) -> str:
    return f"/provider/products/{slug}/registrations"


@router.post("/provider/products/{slug}/certificates/{number}/registrations")
async def later_registration(slug: str, number: str, request: Request,
                             ex: ExchangeDep) -> Response:
    """Draft a licence, transfer, change or cancellation registration on a held
    certificate (rights.registrations.create); submitted from the list like any draft."""
    who = provider_of(ex, request)
    form = await posted(request, who)
    kind = form.get("kind", "")
    with ex.transaction() as s:
        _held_certificate(s, who, slug, number)
        counterparty = find_org(s, form.get("counterparty", ""), "counterparty") \
            if kind in ("licence", "transfer") else None
        data = forms.later_registration_in(kind, number, form, counterparty)
        registrations.create(s, who, data)
    return done(_back(slug), f"prov_registration_{kind}")


@router.post("/provider/products/{slug}/certificates/{number}/pledges")
async def pledge(slug: str, number: str, request: Request, ex: ExchangeDep) -> Response:
    """Register a pledge on a held certificate (rights.pledges.register)."""
    who = provider_of(ex, request)
    form = await posted(request, who)
    with ex.transaction() as s:
        _held_certificate(s, who, slug, number)
        data = forms.pledge_in(form, find_org(s, form.get("pledgee", ""), "pledgee"))
        pledges.register(s, who, number, data)
    return done(_back(slug), "prov_pledged")
