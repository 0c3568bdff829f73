"""Turning agreements and their metered usage into invoices.

A billing run bills every agreement up to a cut-off (by default the start of the current
month in CST, i.e. every complete month): one invoice per agreement per run holding

- one_time: the purchase price, on the agreement's first invoice;
- subscription: one line per period that has begun by the cut-off and was not billed yet
  (charged in advance, at the start of each period, while the agreement runs);
- per_query / per_1000_rows / per_gb: the agreement's usage records not yet on any invoice,
  recorded before the cut-off, priced once per line and rounded half up to the fen.

Usage records are marked with their invoice in the same transaction, by a conditional
UPDATE, so two concurrent runs can never bill the same record twice and a voided invoice
releases its records for the next run. Nothing is lost: a record is either on exactly one
live invoice or waiting for the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from shugu.billing.models import Invoice, InvoiceLine
from shugu.billing.money import BYTES_PER_GB, ROWS_UNIT, metered_amount
from shugu.billing.periods import (
    add_months,
    document_number,
    month_start,
    period_months,
    subscription_starts,
)
from shugu.catalog.models import Product
from shugu.contracts.models import Agreement
from shugu.db import utcnow
from shugu.errors import Conflict, InvalidInput
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger
from shugu.metering.models import UsageRecord

# Which usage records each metered plan charges, and in what unit.
METERED = {
    "per_query": (("share.query", "sandbox.query"), "queries", 1),
    "per_1000_rows": (("share.rows", "sandbox.rows"), "rows", ROWS_UNIT),
    "per_gb": (("share.bytes",), "bytes", BYTES_PER_GB),
}


@dataclass
class _Line:
    kind: str
    description: str
    quantity: int
    unit: str
    unit_price_fen: int
    unit_size: int
    amount_fen: int
    service_from: datetime | None = None
    service_to: datetime | None = None
    usage_ids: tuple[int, ...] = ()


def whole_second_cutoff(until: datetime, now: datetime) -> datetime:
    """A cut-off typed to the second (as people and `date` print it) covers that whole
    second: `--until` the current time bills the agreement concluded a moment earlier in
    the same second. The second may not be over yet, so never beyond now. A cut-off with
    a fraction of a second is taken exactly."""
    if until.microsecond:
        return until
    return min(until + timedelta(seconds=1), now)


def run(session: Session, principal: Principal, until: datetime | None) -> list[Invoice]:
    """Bill every agreement up to `until`; returns the invoices issued."""
    principal.require_operator()
    now = utcnow()
    if until is not None and until > now:
        raise InvalidInput("the billing cut-off cannot be in the future",
                           code="billing_cutoff_in_future", until=until.isoformat())
    until = whole_second_cutoff(until, now) if until is not None else month_start(now)
    ids = session.scalars(select(Agreement.id).where(Agreement.created_at < until)
                          .order_by(Agreement.id)).all()
    issued = []
    for agreement_id in ids:
        invoice = bill_agreement(session, principal.actor, agreement_id, until)
        if invoice is not None:
            issued.append(invoice)
    return issued


def _live_invoices(agreement_id: int) -> Select[tuple[int]]:
    return select(Invoice.id).where(Invoice.agreement_id == agreement_id,
                                    Invoice.status != "void")


def _billed_lines(session: Session, agreement_id: int, kind: str) -> int:
    return session.scalar(select(func.count()).select_from(InvoiceLine).where(
        InvoiceLine.kind == kind, InvoiceLine.invoice_id.in_(_live_invoices(agreement_id)))) or 0


def _fixed_lines(session: Session, a: Agreement, until: datetime) -> list[_Line]:
    if a.plan == "one_time":
        if _billed_lines(session, a.id, "one_time"):
            return []
        return [_Line("one_time", f"一次性购买 one-time purchase ({a.number})", 1, "purchase",
                      a.price_fen, 1, a.price_fen)]
    assert a.period is not None
    # A terminated agreement starts no new period; an expired one runs to valid_until.
    end = a.terminated_at or a.valid_until
    starts = subscription_starts(a.valid_from, a.period, until, end)
    step = period_months(a.period)
    lines = []
    for start in starts[_billed_lines(session, a.id, "subscription"):]:
        stop = add_months(start, step)
        if a.valid_until is not None:
            stop = min(stop, a.valid_until)
        lines.append(_Line("subscription", f"订阅 subscription, one {a.period} ({a.number})", 1,
                           a.period, a.price_fen, 1, a.price_fen, start, stop))
    return lines


def _metered_lines(session: Session, a: Agreement, until: datetime) -> list[_Line]:
    kinds, unit, size = METERED[a.plan]
    if a.entitlement_id is None:
        return []
    rows = session.execute(select(UsageRecord.id, UsageRecord.quantity).where(
        UsageRecord.entitlement_id == a.entitlement_id, UsageRecord.kind.in_(kinds),
        UsageRecord.invoice_id.is_(None), UsageRecord.ts < until)).all()
    quantity = sum(q for _, q in rows)
    if not quantity:
        return []
    return [_Line(a.plan, f"按量计费 metered {unit} ({a.number})", quantity, unit, a.price_fen,
                  size, metered_amount(quantity, a.price_fen, size),
                  usage_ids=tuple(i for i, _ in rows))]


def bill_agreement(session: Session, actor: str, agreement_id: int,
                   until: datetime) -> Invoice | None:
    """One agreement's invoice up to `until`, or None when nothing is due."""
    # Row lock: a concurrent run on PostgreSQL waits here instead of billing the same
    # periods twice (SQLite's writer lock already serialises runs).
    a = session.get(Agreement, agreement_id, with_for_update=True)
    assert a is not None
    lines = _metered_lines(session, a, until) if a.plan in METERED else \
        _fixed_lines(session, a, until)
    if not lines:
        return None
    start = session.scalar(select(func.max(Invoice.period_end)).where(
        Invoice.agreement_id == a.id, Invoice.status != "void")) or a.valid_from
    total = sum(line.amount_fen for line in lines)
    invoice = Invoice(number="", agreement_id=a.id, product_id=a.product_id,
                      consumer_org_id=a.consumer_org_id, provider_org_id=a.provider_org_id,
                      period_start=min(start, until), period_end=until, currency="CNY",
                      total_fen=total, status="issued", issued_at=utcnow(), ledger_seq=0)
    session.add(invoice)
    session.flush()
    invoice.number = document_number("SG-INV", invoice.issued_at, invoice.id)
    for line in lines:
        session.add(InvoiceLine(
            invoice_id=invoice.id, kind=line.kind, description=line.description,
            quantity=line.quantity, unit=line.unit, unit_price_fen=line.unit_price_fen,
            unit_size=line.unit_size, amount_fen=line.amount_fen,
            service_from=line.service_from, service_to=line.service_to))
        _mark_usage(session, line.usage_ids, invoice.id)
    product = session.get(Product, a.product_id)
    assert product is not None
    event = ledger.append(session, actor=actor, action="invoice.issued",
                          subject=f"invoice:{invoice.number}", payload={
                              "number": invoice.number, "agreement": a.number,
                              "agreement_id": a.id, "product": product.slug,
                              "consumer_org_id": a.consumer_org_id,
                              "provider_org_id": a.provider_org_id,
                              "period_start": invoice.period_start,
                              "period_end": invoice.period_end, "currency": "CNY",
                              "total_fen": total,
                              "lines": [{"kind": x.kind, "quantity": x.quantity,
                                         "unit": x.unit, "unit_price_fen": x.unit_price_fen,
                                         "unit_size": x.unit_size, "amount_fen": x.amount_fen}
                                        for x in lines]})
    invoice.ledger_seq = event.seq
    session.flush()
    return invoice


def _mark_usage(session: Session, ids: tuple[int, ...], invoice_id: int) -> None:
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        done = session.execute(
            update(UsageRecord).where(UsageRecord.id.in_(chunk), UsageRecord.invoice_id.is_(None))
            .values(invoice_id=invoice_id).execution_options(synchronize_session=False))
        if done.rowcount != len(chunk):  # type: ignore[attr-defined]
            raise Conflict("another billing run billed some of this usage at the same time; "
                           "run billing again", code="billing_conflict")


def void(session: Session, principal: Principal, invoice: Invoice, reason: str) -> Invoice:
    """Cancel an unsettled invoice; its usage goes back to waiting for the next run."""
    principal.require_operator()
    if invoice.status != "issued":
        raise Conflict(f"invoice {invoice.number} is {invoice.status}; only an issued, "
                       "unsettled invoice can be voided", code="invoice_not_voidable")
    if not reason.strip():
        raise InvalidInput("a reason is required to void an invoice", code="reason_required")
    invoice.status = "void"
    invoice.voided_at = utcnow()
    invoice.void_reason = reason
    session.execute(update(UsageRecord).where(UsageRecord.invoice_id == invoice.id)
                    .values(invoice_id=None).execution_options(synchronize_session=False))
    ledger.append(session, actor=principal.actor, action="invoice.voided",
                  parties=[principal.org_id, invoice.consumer_org_id, invoice.provider_org_id],
                  subject=f"invoice:{invoice.number}",
                  payload={"number": invoice.number, "reason": reason})
    return invoice


def lines_of(session: Session, invoice_id: int) -> list[InvoiceLine]:
    return list(session.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                                .order_by(InvoiceLine.id)))
