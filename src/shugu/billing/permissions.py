"""Who may see and do what in billing: the one place billing checks authorisation.

Invoices and vouchers are visible to the parties of the trade (consumer, provider, the
listing's broker), to operators and to auditors; settlements to operators and auditors.
Operators alone run billing, void invoices and settle.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from shugu.billing.models import Invoice, SettlementLine, Voucher
from shugu.errors import Forbidden, InvalidInput, NotFound
from shugu.identity.principal import Principal

T = TypeVar("T", bound=tuple[Any, ...])


def require_overseer(principal: Principal) -> None:
    if not principal.is_overseer:
        raise Forbidden("only operators and auditors may see settlements",
                        code="operator_or_auditor_required")


def invoices_for(query: Select[T], principal: Principal, role: str) -> Select[T]:
    """Restrict an invoice query to the caller's side: "consumer" (what it pays),
    "provider" (what it sold, including as broker) or "all" (operators and auditors)."""
    if role == "consumer":
        return query.where(Invoice.consumer_org_id == principal.org_id)
    if role == "provider":
        brokered = select(SettlementLine.invoice_id).where(
            SettlementLine.broker_org_id == principal.org_id)
        return query.where(or_(Invoice.provider_org_id == principal.org_id,
                               Invoice.id.in_(brokered)))
    if role == "all":
        require_overseer(principal)
        return query
    raise InvalidInput("role must be consumer, provider or all", code="invalid_role")


def _party(session: Session, principal: Principal, invoice: Invoice) -> bool:
    if principal.is_overseer or principal.org_id in (invoice.consumer_org_id,
                                                      invoice.provider_org_id):
        return True
    line = session.query(SettlementLine).filter_by(invoice_id=invoice.id).one_or_none()
    return line is not None and line.broker_org_id == principal.org_id


def visible_invoice(session: Session, principal: Principal, number: str) -> Invoice:
    invoice = session.scalar(select(Invoice).where(Invoice.number == number))
    if invoice is None or not _party(session, principal, invoice):
        raise NotFound(f"invoice {number} does not exist", code="invoice_not_found")
    return invoice


def visible_voucher(session: Session, principal: Principal, number: str) -> Voucher:
    voucher = session.scalar(select(Voucher).where(Voucher.number == number))
    if voucher is not None:
        invoice = session.get(Invoice, voucher.invoice_id)
        if invoice is not None and _party(session, principal, invoice):
            return voucher
    raise NotFound(f"voucher {number} does not exist", code="voucher_not_found")
