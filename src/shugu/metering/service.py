"""Recording usage; billing turns these records into invoices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shugu.catalog.permissions import as_party
from shugu.db import utcnow
from shugu.entitlements.models import Entitlement
from shugu.identity.principal import Principal
from shugu.metering.models import UsageRecord
from shugu.metering.schemas import UsageOut
from shugu.pagination import Page, check_limit, decode_token, next_token


def record(session: Session, entitlement: Entitlement, kind: str, quantity: int,
           detail: dict[str, Any] | None = None) -> UsageRecord:
    """One usage record, in the caller's transaction (the one that debited the quota)."""
    usage = UsageRecord(entitlement_id=entitlement.id, consumer_org_id=entitlement.consumer_org_id,
                        product_id=entitlement.product_id, kind=kind, quantity=quantity,
                        detail=detail or {}, ts=utcnow())
    session.add(usage)
    session.flush()
    return usage


def list_usage(
    session: Session, principal: Principal, role: str, entitlement_id: int | None,
    limit: int | None, page_token: str | None,
) -> Page[UsageOut]:
    """Usage the caller may see: as consumer its own, as provider that of its products."""
    limit, offset = check_limit(limit), decode_token(page_token)
    query = as_party(select(UsageRecord).order_by(UsageRecord.id),
                     UsageRecord.consumer_org_id, UsageRecord.product_id, principal, role)
    if entitlement_id is not None:
        query = query.where(UsageRecord.entitlement_id == entitlement_id)
    rows = session.scalars(query.offset(offset).limit(limit + 1)).all()
    return Page[UsageOut](items=[UsageOut.model_validate(r) for r in rows[:limit]],
                          next_page_token=next_token(offset, limit, len(rows)))


def monthly_totals(session: Session, principal: Principal, role: str,
                   months: list[tuple[str, datetime, datetime]]) -> dict[str, dict[str, int]]:
    """Usage quantities per month and kind, for the same records list_usage shows the
    caller in `role`: {month label: {kind: total quantity}} for each (label, start, end)
    window (billing.periods.recent_months gives the CST calendar months billing uses)."""
    out: dict[str, dict[str, int]] = {}
    for label, start, end in months:
        query = as_party(select(UsageRecord.kind, func.sum(UsageRecord.quantity))
                         .where(UsageRecord.ts >= start, UsageRecord.ts < end)
                         .group_by(UsageRecord.kind),
                         UsageRecord.consumer_org_id, UsageRecord.product_id, principal, role)
        out[label] = {kind: int(total or 0) for kind, total in session.execute(query)}
    return out
