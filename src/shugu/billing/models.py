"""Invoices, settlements and trade vouchers. Every amount is integer fen (CNY)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shugu.db import Base, UTCDateTime, utcnow

INVOICE_STATES = ("issued", "settled", "void")


class Invoice(Base):
    """What one agreement's consumer owes for [period_start, period_end)."""

    __tablename__ = "invoices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreements.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    consumer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    total_fen: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10), default="issued", index=True)
    settlement_id: Mapped[int | None] = mapped_column(Integer, index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(Text)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    # one_time, subscription, per_query, per_1000_rows, per_gb (the agreement's plan)
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    # In base units: purchases, periods, queries, rows or bytes.
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(20))
    # The agreed price and how many base units it buys (1, 1,000 rows, 10^9 bytes).
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    unit_size: Mapped[int] = mapped_column(BigInteger, default=1)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # The service time a subscription line pays for.
    service_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    service_to: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Settlement(Base):
    """One clearing run: issued invoices are split and become payable/receivable."""

    __tablename__ = "settlements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    invoice_count: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ledger_seq: Mapped[int] = mapped_column(BigInteger)


class SettlementLine(Base):
    """One invoice's split; the basis points are copied so the split is reproducible."""

    __tablename__ = "settlement_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    provider_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    broker_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    consumer_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    provider_bp: Mapped[int] = mapped_column(Integer)
    broker_bp: Mapped[int] = mapped_column(Integer)
    platform_bp: Mapped[int] = mapped_column(Integer)
    provider_fen: Mapped[int] = mapped_column(BigInteger)
    broker_fen: Mapped[int] = mapped_column(BigInteger)
    platform_fen: Mapped[int] = mapped_column(BigInteger)


class Voucher(Base):
    """A trade voucher (交易凭证): the settled trade's facts and the ledger events behind
    them; `content_sha256` is written to the ledger in the voucher.issued event."""

    __tablename__ = "vouchers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), unique=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id"), index=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_sha256: Mapped[str] = mapped_column(String(64))
    ledger_seq: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
