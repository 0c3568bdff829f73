"""Billing's entry points for the API, CLI and portal: queries and the shapes they return."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shugu.billing import invoicing, permissions, settlement, vouchers
from shugu.billing import schemas as s
from shugu.billing.models import Invoice, Settlement, SettlementLine, Voucher
from shugu.billing.money import yuan
from shugu.catalog.models import Product
from shugu.contracts.models import Agreement
from shugu.errors import NotFound
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.ledger import tree_heads
from shugu.pagination import Page, check_limit, decode_token, next_token
from shugu.runtime import Exchange


def platform_org_id(session: Session) -> int | None:
    return session.scalar(select(Organization.id).where(Organization.is_platform.is_(True))
                          .order_by(Organization.id).limit(1))


def invoice_out(session: Session, invoice: Invoice) -> s.InvoiceOut:
    agreement = session.get(Agreement, invoice.agreement_id)
    product = session.get(Product, invoice.product_id)
    assert agreement is not None and product is not None
    stl = session.get(Settlement, invoice.settlement_id) if invoice.settlement_id else None
    voucher = session.scalar(select(Voucher.number).where(Voucher.invoice_id == invoice.id))
    return s.InvoiceOut(
        number=invoice.number, agreement_id=agreement.id, agreement_number=agreement.number,
        product=product.slug, consumer_org_id=invoice.consumer_org_id,
        provider_org_id=invoice.provider_org_id, period_start=invoice.period_start,
        period_end=invoice.period_end, currency=invoice.currency, total_fen=invoice.total_fen,
        total_yuan=yuan(invoice.total_fen), status=invoice.status,
        settlement=stl.number if stl else None, voucher=voucher, issued_at=invoice.issued_at,
        void_reason=invoice.void_reason, ledger_seq=invoice.ledger_seq,
        lines=[s.InvoiceLineOut.model_validate(x)
               for x in invoicing.lines_of(session, invoice.id)])


def list_invoices(session: Session, principal: Principal, role: str, status: str | None,
                  limit: int | None, page_token: str | None) -> Page[s.InvoiceOut]:
    limit, offset = check_limit(limit), decode_token(page_token)
    query = permissions.invoices_for(select(Invoice).order_by(Invoice.id), principal, role)
    if status is not None:
        query = query.where(Invoice.status == status)
    rows = session.scalars(query.offset(offset).limit(limit + 1)).all()
    return Page[s.InvoiceOut](items=[invoice_out(session, i) for i in rows[:limit]],
                              next_page_token=next_token(offset, limit, len(rows)))


def settlement_out(session: Session, stl: Settlement) -> s.SettlementOut:
    lines = settlement.lines_of(session, stl.id)
    platform = platform_org_id(session)
    statement = []
    for org_id, t in settlement.party_totals(lines, platform).items():
        org = session.get(Organization, org_id) if org_id is not None else None
        statement.append(s.PartyTotal(org_id=org_id, name=org.name if org else None,
                                      pays_fen=int(t["pays_fen"] or 0),
                                      receives_fen=int(t["receives_fen"] or 0)))
    numbers = {i.id: i.number for i in session.scalars(
        select(Invoice).where(Invoice.settlement_id == stl.id))}
    return s.SettlementOut(
        number=stl.number, total_fen=stl.total_fen, total_yuan=yuan(stl.total_fen),
        invoice_count=stl.invoice_count, created_by=stl.created_by, created_at=stl.created_at,
        ledger_seq=stl.ledger_seq, statement=statement,
        lines=[s.SettlementLineOut(invoice=numbers[x.invoice_id], **{
            k: getattr(x, k) for k in s.SettlementLineOut.model_fields if k != "invoice"})
            for x in lines],
        vouchers=list(session.scalars(select(Voucher.number).where(
            Voucher.settlement_id == stl.id).order_by(Voucher.id))))


def settle(session: Session, principal: Principal, ex: Exchange,
           until: datetime | None) -> Settlement:
    return settlement.settle(session, principal,
                             default_platform_bp=ex.settings.platform_fee_bp,
                             platform_org_id=platform_org_id(session), until=until)


def get_settlement(session: Session, principal: Principal, number: str) -> Settlement:
    permissions.require_overseer(principal)
    stl = session.scalar(select(Settlement).where(Settlement.number == number))
    if stl is None:
        raise NotFound(f"settlement {number} does not exist", code="settlement_not_found")
    return stl


def list_settlements(session: Session, principal: Principal, limit: int | None,
                     page_token: str | None) -> Page[s.SettlementOut]:
    permissions.require_overseer(principal)
    limit, offset = check_limit(limit), decode_token(page_token)
    rows = session.scalars(select(Settlement).order_by(Settlement.id.desc())
                           .offset(offset).limit(limit + 1)).all()
    return Page[s.SettlementOut](items=[settlement_out(session, x) for x in rows[:limit]],
                                 next_page_token=next_token(offset, limit, len(rows)))


def voucher_out(session: Session, v: Voucher) -> s.VoucherOut:
    return s.VoucherOut(number=v.number, invoice=v.content["invoice"]["number"],
                        settlement=v.content["settlement"]["number"], content=v.content,
                        content_sha256=v.content_sha256, ledger_seq=v.ledger_seq,
                        issued_at=v.issued_at)


def list_vouchers(session: Session, principal: Principal, role: str, limit: int | None,
                  page_token: str | None) -> Page[s.VoucherOut]:
    limit, offset = check_limit(limit), decode_token(page_token)
    query = permissions.invoices_for(
        select(Voucher).join(Invoice, Invoice.id == Voucher.invoice_id).order_by(Voucher.id),
        principal, role)
    rows = session.scalars(query.offset(offset).limit(limit + 1)).all()
    return Page[s.VoucherOut](items=[voucher_out(session, v) for v in rows[:limit]],
                              next_page_token=next_token(offset, limit, len(rows)))


def evidence(ex: Exchange, principal: Principal, number: str) -> dict[str, Any]:
    with ex.read() as session:
        permissions.visible_voucher(session, principal, number)
        sth = tree_heads.for_current_size(session)
    if sth is None:
        with ex.transaction() as session:
            sth = tree_heads.sign_current(session, ex.key)
    with ex.read() as session:
        voucher = permissions.visible_voucher(session, principal, number)
        return vouchers.evidence(session, voucher, sth, ex.key)


def provider_monthly_revenue(session: Session, principal: Principal,
                             months: list[tuple[str, datetime, datetime]]
                             ) -> dict[str, dict[str, int]]:
    """The caller's organisation's sales as provider per month window (label, start, end):
    `invoiced_fen`, the invoices issued to its buyers in the month (void ones left out), and
    `settled_fen`, its share (after the platform's and a broker's) of the settlements run in
    the month. Integer fen."""
    org = principal.org_id
    out: dict[str, dict[str, int]] = {}
    for label, start, end in months:
        invoiced = session.scalar(select(func.sum(Invoice.total_fen)).where(
            Invoice.provider_org_id == org, Invoice.status != "void",
            Invoice.issued_at >= start, Invoice.issued_at < end))
        settled = session.scalar(
            select(func.sum(SettlementLine.provider_fen))
            .join(Settlement, Settlement.id == SettlementLine.settlement_id)
            .where(SettlementLine.provider_org_id == org,
                   Settlement.created_at >= start, Settlement.created_at < end))
        out[label] = {"invoiced_fen": int(invoiced or 0), "settled_fen": int(settled or 0)}
    return out
