"""Clearing (清结算): issued invoices are split between provider, broker and platform, and
each settled trade receives a voucher."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.billing import splits, vouchers
from shugu.billing.models import Invoice, Settlement, SettlementLine
from shugu.billing.periods import document_number
from shugu.db import utcnow
from shugu.errors import Conflict
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger


def settle(session: Session, principal: Principal, *, default_platform_bp: int,
           platform_org_id: int | None, until: datetime | None = None) -> Settlement:
    """Settle every issued invoice (issued before `until`, when given) in one run."""
    principal.require_operator()
    query = select(Invoice).where(Invoice.status == "issued").order_by(Invoice.id)
    if until is not None:
        query = query.where(Invoice.issued_at < until)
    # Locked so that a concurrent void or settlement on PostgreSQL waits for this one.
    invoices = list(session.scalars(query.with_for_update()))
    if not invoices:
        raise Conflict("there are no issued invoices to settle", code="nothing_to_settle")
    settlement = Settlement(number="", total_fen=sum(i.total_fen for i in invoices),
                            invoice_count=len(invoices), created_by=principal.actor,
                            created_at=utcnow(), ledger_seq=0)
    session.add(settlement)
    session.flush()
    settlement.number = document_number("SG-STL", settlement.created_at,
                                        settlement.id)
    lines = []
    for invoice in invoices:
        split = splits.for_product(session, invoice.product_id, default_platform_bp)
        provider_fen, broker_fen, platform_fen = split.amounts(invoice.total_fen)
        line = SettlementLine(
            settlement_id=settlement.id, invoice_id=invoice.id, total_fen=invoice.total_fen,
            provider_org_id=invoice.provider_org_id, broker_org_id=split.broker_org_id,
            consumer_org_id=invoice.consumer_org_id, provider_bp=split.provider_bp,
            broker_bp=split.broker_bp, platform_bp=split.platform_bp,
            provider_fen=provider_fen, broker_fen=broker_fen, platform_fen=platform_fen)
        session.add(line)
        lines.append(line)
        invoice.status = "settled"
        invoice.settlement_id = settlement.id
    session.flush()
    totals = party_totals(lines, platform_org_id)
    event = ledger.append(session, actor=principal.actor, action="settlement.completed",
                          parties=[principal.org_id],
                          subject=f"settlement:{settlement.number}", payload={
                              "number": settlement.number, "total_fen": settlement.total_fen,
                              "invoices": [i.number for i in invoices],
                              "parties": [t for t in totals.values()]})
    settlement.ledger_seq = event.seq
    for invoice, line in zip(invoices, lines, strict=True):
        vouchers.issue(session, principal.actor, invoice, line, settlement)
    return settlement


def party_totals(lines: list[SettlementLine],
                 platform_org_id: int | None) -> dict[int | None, dict[str, int | None]]:
    """Per organisation: what it pays (as consumer) and receives (as provider, broker or
    platform) in a settlement. The platform is keyed by its organisation id."""
    totals: dict[int | None, dict[str, int | None]] = defaultdict(
        lambda: {"org_id": None, "pays_fen": 0, "receives_fen": 0})

    def add(org: int | None, field: str, fen: int) -> None:
        entry = totals[org]
        entry["org_id"] = org
        entry[field] = int(entry[field] or 0) + fen

    for line in lines:
        add(line.consumer_org_id, "pays_fen", line.total_fen)
        add(line.provider_org_id, "receives_fen", line.provider_fen)
        if line.broker_org_id is not None:
            add(line.broker_org_id, "receives_fen", line.broker_fen)
        add(platform_org_id, "receives_fen", line.platform_fen)
    return dict(sorted(totals.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)))


def lines_of(session: Session, settlement_id: int) -> list[SettlementLine]:
    return list(session.scalars(select(SettlementLine).where(
        SettlementLine.settlement_id == settlement_id).order_by(SettlementLine.id)))
