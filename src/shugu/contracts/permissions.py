"""Who may see and do what in contracts: the one place this domain checks authorisation."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, or_
from sqlalchemy.orm import Session

from shugu.catalog.models import Product
from shugu.catalog.permissions import LISTED, can_see
from shugu.contracts.models import Agreement, Negotiation, Offer
from shugu.errors import Conflict, Forbidden, InvalidInput, NotFound
from shugu.identity.principal import Principal

T = TypeVar("T", bound=tuple[Any, ...])


def check_offerable(product: Product) -> None:
    """May this product be negotiated now? Only while it is listed (挂牌): a product in
    draft or review, rejected or delisted takes no new deals (running agreements go on)."""
    if product.status != LISTED:
        raise Conflict(f"product {product.slug!r} is {product.status} and cannot be traded",
                       code="product_not_offerable", status=product.status)


def check_open_for_offers(product: Product) -> None:
    """Providers prepare offers before listing (the listing shows price and terms), but not
    on a delisted product."""
    if product.status == "delisted":
        raise Conflict(f"product {product.slug!r} is delisted and takes no new offers",
                       code="product_not_offerable", status=product.status)


def check_owner(principal: Principal, product: Product) -> None:
    if product.provider_org_id != principal.org_id:
        raise Forbidden(f"product {product.slug!r} belongs to another organisation",
                        code="not_product_owner")


def can_see_offer(principal: Principal, offer: Offer) -> bool:
    return (offer.provider_org_id == principal.org_id or offer.visibility == "public"
            or offer.private_org_id == principal.org_id)


def visible_offers(query: Select[T], principal: Principal) -> Select[T]:
    """Public offers, those private to the caller's organisation and all of its own."""
    return query.where(or_(Offer.provider_org_id == principal.org_id,
                           Offer.visibility == "public",
                           Offer.private_org_id == principal.org_id))


def visible_offer(session: Session, principal: Principal, offer_id: int) -> Offer:
    offer = session.get(Offer, offer_id)
    product = session.get(Product, offer.product_id) if offer is not None else None
    if offer is None or product is None or not can_see_offer(principal, offer) \
            or not can_see(principal, product):
        # A private offer's existence is not revealed to anyone else.
        raise NotFound(f"offer {offer_id} does not exist", code="offer_not_found")
    return offer


def own_offer(session: Session, principal: Principal, offer_id: int) -> Offer:
    offer = visible_offer(session, principal, offer_id)
    if offer.provider_org_id != principal.org_id:
        raise Forbidden("only the offer's provider may do this", code="not_offer_owner")
    return offer


def negotiation_side(session: Session, principal: Principal, negotiation_id: int, *,
                     lock: bool = False) -> tuple[Negotiation, str]:
    """The negotiation and the caller's side in it; 404 for anyone not a party. `lock`
    takes the row for the rest of the transaction so that two messages cannot both move
    the same state."""
    n = session.get(Negotiation, negotiation_id, with_for_update=lock)
    if n is not None:
        if principal.org_id == n.consumer_org_id:
            return n, "consumer"
        if principal.org_id == n.provider_org_id:
            return n, "provider"
    raise NotFound(f"negotiation {negotiation_id} does not exist",
                   code="negotiation_not_found")


def require_side(side: str, needed: str, message: str) -> None:
    if side != needed:
        raise Forbidden(f"only the {needed} sends {message}", code="wrong_side",
                        side=side, needed=needed)


def agreement_side(session: Session, principal: Principal, agreement_id: int, *,
                   lock: bool = False) -> tuple[Agreement, str]:
    a = session.get(Agreement, agreement_id, with_for_update=lock)
    if a is not None:
        if principal.org_id == a.consumer_org_id:
            return a, "consumer"
        if principal.org_id == a.provider_org_id:
            return a, "provider"
    raise NotFound(f"agreement {agreement_id} does not exist", code="agreement_not_found")


def readable_agreement(session: Session, principal: Principal, agreement_id: int) -> Agreement:
    if principal.is_overseer:
        a = session.get(Agreement, agreement_id)
        if a is not None:
            return a
    return agreement_side(session, principal, agreement_id)[0]


def as_side(query: Select[T], consumer_col: Any, provider_col: Any, principal: Principal,
            role: str) -> Select[T]:
    if role == "all":
        if not principal.is_overseer:
            raise Forbidden("only operators and auditors may list every agreement",
                            code="operator_or_auditor_required")
        return query
    if role == "consumer":
        return query.where(consumer_col == principal.org_id)
    if role == "provider":
        return query.where(provider_col == principal.org_id)
    raise InvalidInput("role must be consumer or provider", code="invalid_role")
