"""Read-only counts for the operator's portal dashboard."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shugu.billing.models import Invoice
from shugu.billing.permissions import require_overseer
from shugu.identity.principal import Principal


def invoices_by_status(session: Session, principal: Principal) -> dict[str, int]:
    require_overseer(principal)
    rows = session.execute(select(Invoice.status, func.count(Invoice.id))
                           .group_by(Invoice.status))
    return {status: int(n) for status, n in rows}
