"""Concluding agreements (frozen, hashed terms that create an entitlement), reading,
terminating them and the delete-after-expiry duty."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.billing.periods import document_number
from shugu.catalog.models import Product
from shugu.contracts import permissions, policy, schemas
from shugu.contracts.models import Agreement, Negotiation
from shugu.db import utcnow
from shugu.entitlements import service as entitlements
from shugu.entitlements.models import Entitlement
from shugu.entitlements.schemas import Quotas
from shugu.errors import Conflict
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.jsoncanon import canonical_bytes
from shugu.ledger import service as ledger
from shugu.pagination import Page, check_limit, decode_token, next_token
from shugu.sandbox.dp import budget

PERIOD_MONTHS = {"month": 1, "year": 12}


def terms_hash(terms: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of the frozen terms."""
    return hashlib.sha256(canonical_bytes(terms)).hexdigest()


def window(rules: policy.Rules, plan: str, period: str | None,
           now: datetime) -> tuple[datetime, datetime | None]:
    """When the agreement's use begins and ends: from the policy's dateTime and elapsedTime
    constraints (the earlier end wins); a subscription without either runs one period."""
    start = max(now, rules.starts[0].astimezone(UTC)) if rules.starts else now
    ends: list[datetime] = []
    if rules.ends:
        ends.append(rules.ends[0].astimezone(UTC))
    if rules.duration:
        ends.append(rules.duration[0].after(start))
    if not ends and plan == "subscription" and period is not None:
        ends.append(policy.add_months(start, PERIOD_MONTHS[period]))
    return start, (min(ends) if ends else None)


def _party(org: Organization) -> dict[str, Any]:
    return {"org_id": org.id, "name": org.name, "name_en": org.name_en, "uscc": org.uscc}


def conclude(session: Session, n: Negotiation, *, actor: str) -> Agreement:
    """Freeze the negotiation's terms into an agreement and create its entitlement."""
    product = session.get(Product, n.product_id)
    provider = session.get(Organization, n.provider_org_id)
    consumer = session.get(Organization, n.consumer_org_id)
    assert product is not None and provider is not None and consumer is not None
    _, rules = policy.parse(n.terms["policy"])
    now = utcnow()
    start, until = window(rules, n.terms["plan"], n.terms["period"], now)
    if until is not None and until <= start:
        raise Conflict("the agreed validity window has already closed",
                       code="window_closed")
    a = Agreement(number=f"pending-{n.id}", negotiation_id=n.id, offer_id=n.offer_id,
                  product_id=n.product_id, provider_org_id=n.provider_org_id,
                  consumer_org_id=n.consumer_org_id, plan=n.terms["plan"],
                  period=n.terms["period"], price_fen=n.terms["price_fen"], terms={},
                  terms_hash="", valid_from=start, valid_until=until, status="active",
                  created_at=now)
    session.add(a)
    session.flush()
    # The id gives a unique, gap-tolerant sequence without a counter table to contend on.
    a.number = document_number("SG-AGR", now, a.id)
    quotas = {unit: q for unit, (q, _) in rules.quotas.items()}
    agreed_policy = {**n.terms["policy"], "@type": "Agreement", "uid": a.number,
                     "target": product.slug, "assigner": provider.uscc,
                     "assignee": consumer.uscc}
    terms = {
        "number": a.number, "negotiation_id": n.id, "offer_id": n.offer_id,
        "product": {"slug": product.slug, "title_zh": product.title_zh},
        "provider": _party(provider), "consumer": _party(consumer),
        "plan": a.plan, "period": a.period, "price_fen": a.price_fen, "currency": "CNY",
        "policy": agreed_policy, "purpose": n.purpose, "purpose_text": n.purpose_text,
        "modes": sorted(rules.modes[0]) if rules.modes else [],
        "quotas": quotas, "epsilon": rules.epsilon[0] if rules.epsilon else None,
        "valid_from": start.isoformat(), "valid_until": until.isoformat() if until else None,
        "concluded_at": now.isoformat(),
    }
    e = entitlements.create(session, actor=actor, consumer_org_id=consumer.id,
                            product=product, modes=terms["modes"], valid_from=start,
                            valid_until=until, quotas=Quotas(**quotas), source="agreement",
                            agreement_id=a.id, plan=a.plan, unit_price_fen=a.price_fen)
    if terms["epsilon"] is not None:
        # The agreed ε is the entitlement's privacy budget for DP sandbox answers.
        budget.set_budget(session, e.id, terms["epsilon"], actor=actor)
    a.terms = terms
    a.terms_hash = terms_hash(terms)
    a.entitlement_id = e.id
    n.agreement_id = a.id
    ledger.append(session, actor=actor, action="agreement.concluded",
                  subject=f"agreement:{a.id}",
                  payload={"number": a.number, "terms_hash": a.terms_hash,
                           "negotiation_id": n.id, "product": product.slug,
                           "provider_org_id": a.provider_org_id,
                           "consumer_org_id": a.consumer_org_id, "entitlement_id": e.id})
    return a


def deletion_duty(a: Agreement, now: datetime | None = None) -> str:
    """none, not_due (in force), due (ended, not yet confirmed) or fulfilled."""
    _, rules = policy.parse(a.terms["policy"])
    if rules.delete_duty is None:
        return "none"
    if a.deletion_confirmed_at is not None:
        return "fulfilled"
    now = now or utcnow()
    ended = a.status == "terminated" or (a.valid_until is not None and now >= a.valid_until)
    return "due" if ended else "not_due"


def is_live(a: Agreement, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return a.status == "active" and a.valid_from <= now and (
        a.valid_until is None or now < a.valid_until)


def terminate(session: Session, principal: Principal, agreement_id: int,
              reason: str) -> Agreement:
    """Either party ends the agreement; its entitlement is revoked in the same transaction,
    so the next delivery request is refused."""
    a, side = permissions.agreement_side(session, principal, agreement_id, lock=True)
    if a.status != "active":
        raise Conflict(f"agreement {a.number} is already {a.status}",
                       code="agreement_terminated")
    a.status = "terminated"
    a.terminated_at = utcnow()
    a.termination_reason = reason
    e = session.get(Entitlement, a.entitlement_id) if a.entitlement_id else None
    if e is not None and e.revoked_at is None:
        entitlements.end(session, e, actor=principal.actor,
                         reason=f"agreement {a.number} terminated: {reason}")
    ledger.append(session, actor=principal.actor, action="agreement.terminated",
                  parties=[a.provider_org_id, a.consumer_org_id],
                  subject=f"agreement:{a.id}",
                  payload={"number": a.number, "side": side, "reason": reason})
    return a


def confirm_deletion(session: Session, principal: Principal, agreement_id: int) -> Agreement:
    a, side = permissions.agreement_side(session, principal, agreement_id, lock=True)
    permissions.require_side(side, "consumer", "the deletion confirmation")
    status = deletion_duty(a)
    if status != "due":
        code, why = {"none": ("no_deletion_duty", "has no delete duty"),
                     "not_due": ("deletion_not_due", "is still in force"),
                     "fulfilled": ("deletion_already_confirmed",
                                   "already has its deletion confirmed")}[status]
        raise Conflict(f"agreement {a.number} {why}", code=code, duty=status)
    a.deletion_confirmed_at = utcnow()
    ledger.append(session, actor=principal.actor, action="agreement.deletion_confirmed",
                  parties=[a.provider_org_id, a.consumer_org_id],
                  subject=f"agreement:{a.id}", payload={"number": a.number})
    return a


def get(session: Session, principal: Principal, agreement_id: int) -> Agreement:
    return permissions.readable_agreement(session, principal, agreement_id)


def list_for(session: Session, principal: Principal, role: str, limit: int | None,
             page_token: str | None) -> Page[schemas.AgreementOut]:
    limit, offset = check_limit(limit), decode_token(page_token)
    query = permissions.as_side(select(Agreement).order_by(Agreement.id),
                                Agreement.consumer_org_id, Agreement.provider_org_id,
                                principal, role)
    rows = session.scalars(query.offset(offset).limit(limit + 1)).all()
    return Page[schemas.AgreementOut](items=[to_out(session, a) for a in rows[:limit]],
                                      next_page_token=next_token(offset, limit, len(rows)))


def to_out(session: Session, a: Agreement) -> schemas.AgreementOut:
    product = session.get(Product, a.product_id)
    assert product is not None
    return schemas.AgreementOut(
        id=a.id, number=a.number, negotiation_id=a.negotiation_id, offer_id=a.offer_id,
        product=product.slug, provider_org_id=a.provider_org_id,
        consumer_org_id=a.consumer_org_id, plan=a.plan, period=a.period,
        price_fen=a.price_fen, terms=a.terms, terms_hash=a.terms_hash,
        valid_from=a.valid_from, valid_until=a.valid_until, entitlement_id=a.entitlement_id,
        status=a.status, live=is_live(a), created_at=a.created_at,
        terminated_at=a.terminated_at, termination_reason=a.termination_reason,
        deletion_duty=deletion_duty(a),  # type: ignore[arg-type]
        deletion_confirmed_at=a.deletion_confirmed_at)
