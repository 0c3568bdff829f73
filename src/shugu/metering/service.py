"""Recording usage; billing turns these records into invoices."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shugu.db import utcnow
from shugu.entitlements.models import Entitlement
from shugu.metering.models import UsageRecord


def record(session: Session, entitlement: Entitlement, kind: str, quantity: int,
           detail: dict[str, Any] | None = None) -> UsageRecord:
    """One usage record, in the caller's transaction (the one that debited the quota)."""
    usage = UsageRecord(entitlement_id=entitlement.id, consumer_org_id=entitlement.consumer_org_id,
                        product_id=entitlement.product_id, kind=kind, quantity=quantity,
                        detail=detail or {}, ts=utcnow())
    session.add(usage)
    session.flush()
    return usage
