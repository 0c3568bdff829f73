"""Contract negotiation with the Dataspace Protocol states.

    consumer  request    (new) | OFFERED        -> REQUESTED
    provider  offer      REQUESTED              -> OFFERED      (counter-offer)
    consumer  accept     OFFERED                -> ACCEPTED
    provider  agree      REQUESTED | ACCEPTED   -> AGREED
    consumer  verify     AGREED                 -> VERIFIED
    provider  finalize   VERIFIED               -> FINALIZED    (agreement + entitlement)
    either    terminate  any non-final state    -> TERMINATED

Every message is checked against this table in one place (`_move`), recorded as a step and
appended to the ledger in the transaction that changes the state.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shugu.catalog.models import Product
from shugu.contracts import agreements, offers, permissions, policy, schemas
from shugu.contracts.models import FINAL_STATES, STATES, Negotiation, NegotiationStep, Offer
from shugu.db import utcnow
from shugu.errors import Conflict, Forbidden, InvalidInput
from shugu.identity.principal import SYSTEM_ACTOR, Principal
from shugu.jsoncanon import dumps
from shugu.ledger import service as ledger
from shugu.pagination import Page, check_limit, decode_token, next_token

# message -> (who sends it, states it may be sent in, state it leads to)
TRANSITIONS: dict[str, tuple[str | None, tuple[str | None, ...], str]] = {
    "request": ("consumer", (None, "OFFERED"), "REQUESTED"),
    "offer": ("provider", ("REQUESTED",), "OFFERED"),
    "accept": ("consumer", ("OFFERED",), "ACCEPTED"),
    "agree": ("provider", ("REQUESTED", "ACCEPTED"), "AGREED"),
    "verify": ("consumer", ("AGREED",), "VERIFIED"),
    "finalize": ("provider", ("VERIFIED",), "FINALIZED"),
    "terminate": (None, tuple(s for s in STATES if s not in FINAL_STATES), "TERMINATED"),
}
EVENTS = {"request": "negotiation.requested", "offer": "negotiation.offered",
          "accept": "negotiation.accepted", "agree": "negotiation.agreed",
          "verify": "negotiation.verified", "finalize": "negotiation.finalized",
          "terminate": "negotiation.terminated"}


def _check_move(n: Negotiation | None, message: str, side: str) -> None:
    needed, sources, _ = TRANSITIONS[message]
    if needed is not None and side != "system":
        permissions.require_side(side, needed, f"{message!r}")
    state = n.state if n is not None else None
    if state not in sources:
        allowed = ", ".join(s or "(new)" for s in sources)
        raise Conflict(f"illegal transition: {message!r} cannot be sent in state {state}; "
                       f"it is allowed in {allowed}", code="illegal_transition",
                       state=state, message_type=message)


def _move(session: Session, n: Negotiation, message: str, side: str, actor: str, *,
          terms: dict[str, Any] | None = None, note: str | None = None,
          new: bool = False) -> None:
    """Record one message: the step, the new state and its ledger event."""
    _check_move(None if new else n, message, side)
    before = None if new else n.state
    to_state = TRANSITIONS[message][2]
    n.state = to_state
    n.updated_at = utcnow()
    seq = (session.scalar(select(func.max(NegotiationStep.seq)).where(
        NegotiationStep.negotiation_id == n.id)) or 0) + 1
    session.add(NegotiationStep(negotiation_id=n.id, seq=seq, message=message,
                                from_state=before, to_state=to_state, side=side, actor=actor,
                                terms=terms, note=note, ts=n.updated_at))
    payload: dict[str, Any] = {"negotiation_id": n.id, "offer_id": n.offer_id,
                               "from": before, "to": to_state, "side": side}
    if terms is not None:
        payload["terms"] = terms
    if note:
        payload["note"] = note
    ledger.append(session, actor=actor, action=EVENTS[message],
                  subject=f"negotiation:{n.id}", payload=payload,
                  parties=[n.provider_org_id, n.consumer_org_id])
    session.flush()


def _merge(current: dict[str, Any], counter: schemas.TermsIn) -> dict[str, Any]:
    given = counter.model_dump(exclude_unset=True)
    for key in ("plan", "price_fen", "policy"):
        if key in given and given[key] is None:
            raise InvalidInput(f"terms.{key} cannot be null", code="invalid_terms")
    new = dict(current)
    if "plan" in given:
        new["plan"], new["period"] = given["plan"], given.get("period")
    elif "period" in given:
        new["period"] = given["period"]
    if "price_fen" in given:
        new["price_fen"] = given["price_fen"]
    if "policy" in given:
        new["policy"] = policy.normalise(given["policy"])
    offers.check_price_plan(new["plan"], new["period"], new["price_fen"])
    return new


def _check_policy(session: Session, n: Negotiation) -> None:
    """May this consumer, with its stated purpose, take these terms? A refusal carries the
    whole decision so that the consumer sees which rule said no, and why."""
    decision = policy.evaluate(n.terms["policy"],
                               offers.context_for(session, n.consumer_org_id, n.purpose))
    if not decision.allowed:
        reasons = "; ".join(r.reason for r in decision.denials())
        raise Forbidden(f"the usage policy does not permit this: {reasons}",
                        code="policy_denied", decision=decision.model_dump())


def _check_tradeable(session: Session, n: Negotiation) -> None:
    offer = session.get(Offer, n.offer_id)
    product = session.get(Product, n.product_id)
    assert offer is not None and product is not None
    offers.check_active(offer)
    permissions.check_offerable(product)


def _check_purpose(purpose: str, text: str | None, approval: str) -> str | None:
    if purpose not in policy.PURPOSES:
        raise InvalidInput(f"purpose {purpose!r} is not one of {', '.join(policy.PURPOSES)}",
                           code="invalid_purpose")
    text = (text or "").strip() or None
    if text is None and (purpose == "other" or approval == "manual"):
        raise InvalidInput("describe the purpose in purpose_text (required for purpose "
                           "'other' and for offers that need the provider's approval)",
                           code="purpose_text_required")
    return text


def request(session: Session, principal: Principal,
            data: schemas.NegotiationIn) -> Negotiation:
    """The consumer asks for an offer, as it stands or with counter-terms. An instant offer
    taken unchanged is agreed, verified and finalized in the same call."""
    principal.require_role("consumer")
    offer = permissions.visible_offer(session, principal, data.offer_id)
    offers.check_active(offer)
    product = session.get(Product, offer.product_id)
    assert product is not None
    if product.provider_org_id == principal.org_id:
        raise InvalidInput("a provider does not negotiate for its own product",
                           code="own_product")
    permissions.check_offerable(product)
    text = _check_purpose(data.purpose, data.purpose_text, offer.approval)
    standing = offers.terms_of(offer)
    terms = _merge(standing, data.terms) if data.terms is not None else standing
    now = utcnow()
    n = Negotiation(offer_id=offer.id, product_id=product.id,
                    provider_org_id=offer.provider_org_id, consumer_org_id=principal.org_id,
                    state="REQUESTED", purpose=data.purpose, purpose_text=text, terms=terms,
                    proposed_by="consumer", created_at=now, updated_at=now)
    _check_policy(session, n)
    session.add(n)
    session.flush()
    _move(session, n, "request", "consumer", principal.actor, terms=terms, new=True)
    if offer.approval == "instant" and dumps(terms) == dumps(standing):
        _move(session, n, "agree", "system", SYSTEM_ACTOR,
              note="instant offer: agreed on the provider's behalf")
        _move(session, n, "verify", "consumer", principal.actor)
        _finalize(session, n, "system", SYSTEM_ACTOR)
    return n


def _finalize(session: Session, n: Negotiation, side: str, actor: str,
              note: str | None = None) -> None:
    _check_move(n, "finalize", side)
    _check_tradeable(session, n)
    _check_policy(session, n)
    _move(session, n, "finalize", side, actor, note=note)
    agreements.conclude(session, n, actor=actor)


def counter(session: Session, principal: Principal, negotiation_id: int, message: str,
            data: schemas.CounterIn) -> Negotiation:
    """A counter-proposal: the provider's "offer" or the consumer's "request"."""
    n, side = permissions.negotiation_side(session, principal, negotiation_id, lock=True)
    _check_move(n, message, side)
    _check_tradeable(session, n)
    n.terms = _merge(n.terms, data.terms)
    n.proposed_by = side
    _check_policy(session, n)
    _move(session, n, message, side, principal.actor, terms=n.terms, note=data.note)
    return n


def reply(session: Session, principal: Principal, negotiation_id: int, message: str,
          note: str | None = None) -> Negotiation:
    """accept, agree, verify or finalize the proposal on the table."""
    n, side = permissions.negotiation_side(session, principal, negotiation_id, lock=True)
    if message == "finalize":
        _finalize(session, n, side, principal.actor, note)
        return n
    _check_move(n, message, side)
    if message in ("accept", "agree"):
        _check_tradeable(session, n)
        _check_policy(session, n)
    _move(session, n, message, side, principal.actor, note=note)
    return n


def terminate(session: Session, principal: Principal, negotiation_id: int,
              reason: str) -> Negotiation:
    n, side = permissions.negotiation_side(session, principal, negotiation_id, lock=True)
    _check_move(n, "terminate", side)
    n.termination_reason = reason
    _move(session, n, "terminate", side, principal.actor, note=reason)
    return n


def get(session: Session, principal: Principal, negotiation_id: int) -> Negotiation:
    return permissions.negotiation_side(session, principal, negotiation_id)[0]


def list_for(session: Session, principal: Principal, role: str, state: str | None,
             limit: int | None, page_token: str | None) -> Page[schemas.NegotiationOut]:
    limit, offset = check_limit(limit), decode_token(page_token)
    query = permissions.as_side(select(Negotiation).order_by(Negotiation.id),
                                Negotiation.consumer_org_id, Negotiation.provider_org_id,
                                principal, role)
    if state is not None:
        if state not in STATES:
            raise InvalidInput(f"state must be one of {', '.join(STATES)}",
                               code="invalid_state")
        query = query.where(Negotiation.state == state)
    rows = session.scalars(query.offset(offset).limit(limit + 1)).all()
    return Page[schemas.NegotiationOut](
        items=[to_out(session, n, steps=False) for n in rows[:limit]],
        next_page_token=next_token(offset, limit, len(rows)))


def to_out(session: Session, n: Negotiation, *, steps: bool = True) -> schemas.NegotiationOut:
    product = session.get(Product, n.product_id)
    assert product is not None
    history = session.scalars(select(NegotiationStep).where(
        NegotiationStep.negotiation_id == n.id).order_by(NegotiationStep.seq)) if steps else []
    return schemas.NegotiationOut(
        id=n.id, offer_id=n.offer_id, product=product.slug,
        provider_org_id=n.provider_org_id, consumer_org_id=n.consumer_org_id, state=n.state,
        purpose=n.purpose, purpose_text=n.purpose_text, terms=n.terms,
        proposed_by=n.proposed_by, termination_reason=n.termination_reason,
        agreement_id=n.agreement_id, created_at=n.created_at, updated_at=n.updated_at,
        steps=[schemas.StepOut(seq=s.seq, message=s.message, from_state=s.from_state,
                               to_state=s.to_state, side=s.side, actor=s.actor, terms=s.terms,
                               note=s.note, ts=s.ts) for s in history])
