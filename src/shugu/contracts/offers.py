"""Creating, listing, withdrawing and evaluating offers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.catalog.models import Product
from shugu.catalog.permissions import find_product, visible_product
from shugu.contracts import permissions, policy, schemas
from shugu.contracts.models import Offer
from shugu.contracts.money import check_fen, fen_to_yuan
from shugu.db import utcnow
from shugu.errors import Conflict, InvalidInput
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger


def check_price_plan(plan: str, period: str | None, price_fen: int) -> None:
    """A subscription is priced per period; every other plan has no period."""
    if plan == "subscription" and period is None:
        raise InvalidInput("a subscription needs a period (month or year)",
                           code="period_required")
    if plan != "subscription" and period is not None:
        raise InvalidInput(f"a {plan} plan takes no period", code="period_not_allowed")
    check_fen(price_fen)


def terms_of(offer: Offer) -> dict[str, Any]:
    return {"plan": offer.plan, "period": offer.period, "price_fen": offer.price_fen,
            "policy": offer.policy}


def create(session: Session, principal: Principal, slug: str, data: schemas.OfferIn) -> Offer:
    principal.require_role("provider")
    product = find_product(session, slug)
    permissions.check_owner(principal, product)
    permissions.check_open_for_offers(product)
    check_price_plan(data.plan, data.period, data.price_fen)
    stored_policy = policy.normalise(data.policy)
    if data.visibility == "private":
        target = session.get(Organization, data.private_org_id) \
            if data.private_org_id is not None else None
        if target is None or "consumer" not in target.roles:
            raise InvalidInput("a private offer needs private_org_id of a consumer "
                               "organisation", code="invalid_private_org")
        if target.id == principal.org_id:
            raise InvalidInput("a private offer cannot be made to yourself",
                               code="invalid_private_org")
    elif data.private_org_id is not None:
        raise InvalidInput("private_org_id is only for private offers",
                           code="invalid_private_org")
    offer = Offer(product_id=product.id, provider_org_id=principal.org_id, title=data.title,
                  description=data.description, plan=data.plan, period=data.period,
                  price_fen=data.price_fen, visibility=data.visibility,
                  private_org_id=data.private_org_id, approval=data.approval,
                  policy=stored_policy, status="active", created_at=utcnow())
    session.add(offer)
    session.flush()
    ledger.append(session, actor=principal.actor, action="offer.created",
                  parties=[principal.org_id],
                  subject=f"offer:{offer.id}",
                  payload={"id": offer.id, "product": product.slug, **terms_of(offer),
                           "visibility": offer.visibility,
                           "private_org_id": offer.private_org_id,
                           "approval": offer.approval})
    return offer


def list_for_product(session: Session, principal: Principal, slug: str) -> list[Offer]:
    """Active public offers and those private to the caller; the provider sees all of its
    own, withdrawn ones included."""
    product = visible_product(session, principal, slug)
    query = permissions.visible_offers(
        select(Offer).where(Offer.product_id == product.id).order_by(Offer.id), principal)
    if product.provider_org_id != principal.org_id:
        query = query.where(Offer.status == "active")
    return list(session.scalars(query))


def get(session: Session, principal: Principal, offer_id: int) -> Offer:
    return permissions.visible_offer(session, principal, offer_id)


def withdraw(session: Session, principal: Principal, offer_id: int) -> Offer:
    """No new negotiations on it; running ones cannot be agreed or finalized any more.
    Agreements already concluded are not affected."""
    offer = permissions.own_offer(session, principal, offer_id)
    if offer.status != "active":
        raise Conflict(f"offer {offer_id} is already withdrawn", code="offer_withdrawn")
    offer.status = "withdrawn"
    offer.withdrawn_at = utcnow()
    ledger.append(session, actor=principal.actor, action="offer.withdrawn",
                  parties=[principal.org_id],
                  subject=f"offer:{offer.id}", payload={"id": offer.id})
    return offer


def check_active(offer: Offer) -> None:
    if offer.status != "active":
        raise Conflict(f"offer {offer.id} has been withdrawn", code="offer_withdrawn")


def context_for(session: Session, org_id: int, purpose: str | None,
                mode: str | None = None) -> policy.Context:
    org = session.get(Organization, org_id)
    assert org is not None
    return policy.Context(org_id=org.id, uscc=org.uscc, roles=tuple(org.roles),
                          purpose=purpose, mode=mode)


def evaluate(session: Session, principal: Principal, offer_id: int,
             data: schemas.EvaluateIn) -> policy.Decision:
    offer = permissions.visible_offer(session, principal, offer_id)
    return policy.evaluate(offer.policy, context_for(session, principal.org_id, data.purpose,
                                                     data.mode))


def to_out(session: Session, offer: Offer) -> schemas.OfferOut:
    product = session.get(Product, offer.product_id)
    assert product is not None
    return schemas.OfferOut(
        id=offer.id, product=product.slug, provider_org_id=offer.provider_org_id,
        title=offer.title, description=offer.description, plan=offer.plan,
        period=offer.period, price_fen=offer.price_fen, price_yuan=fen_to_yuan(offer.price_fen),
        visibility=offer.visibility, private_org_id=offer.private_org_id,
        approval=offer.approval, policy=offer.policy, status=offer.status,
        created_at=offer.created_at, withdrawn_at=offer.withdrawn_at)
